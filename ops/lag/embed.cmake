# Writes OUT, a C file defining the bytes of IN as `const char NAME[]` (NUL-terminated)
# and `const size_t NAME_len`, declared by HEADER.
#   cmake -DIN=page.html -DOUT=page.c -DNAME=sym -DHEADER=sym.h -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} by embed.cmake */\n"
	"#include \"${HEADER}\"\n"
	"const char ${NAME}[] = {${bytes}0};\n"
	"const size_t ${NAME}_len = ${len};\n")
