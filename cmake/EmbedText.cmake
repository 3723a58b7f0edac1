# cmake -DIN=file -DOUT=header [-DNS=namespace] [-DNAME=variable] -P EmbedText.cmake:
# embeds a text file as a C++ raw string constant.
if(NOT NS)
  set(NS bihuan::definition_detail)
endif()
if(NOT NAME)
  set(NAME kDefinitionSchemaText)
endif()
file(READ ${IN} content)
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n#pragma once\nnamespace ${NS} {\ninline constexpr const char* ${NAME} = R\"BIHUAN_EMBED(${content})BIHUAN_EMBED\";\n}\n")
