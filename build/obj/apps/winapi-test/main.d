build/obj/apps/winapi-test/main.o: apps/winapi-test/main.c \
 include/winapi/lowlat.h include/winapi/protocol.h
include/winapi/lowlat.h:
include/winapi/protocol.h:
