build/obj/tests/e2e/echo_e2e.o: tests/e2e/echo_e2e.c \
 include/winapi/lowlat.h
include/winapi/lowlat.h:
