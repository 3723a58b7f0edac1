// Must NOT compile: the expression evaluator (engine/src/expr) may not use storage.
// Compiled by the test boundaries.private_include_fails with expr's include path.
#include "storage/lmdb_env.hpp"
