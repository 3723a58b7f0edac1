// bihuan: the command-line front end. Thin: parses arguments, calls the engine library.
#include <cstdio>
int main() { std::puts("bihuan: under construction"); return 0; }
