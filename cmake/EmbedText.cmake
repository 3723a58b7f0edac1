# cmake -DIN=file -DOUT=header -P EmbedText.cmake: embeds a text file as a C++ raw string.
file(READ ${IN} content)
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#pragma once\nnamespace bihuan::definition_detail {\ninline constexpr const char* kDefinitionSchemaText = R\"BIHUAN_EMBED(${content})BIHUAN_EMBED\";\n}\n")
