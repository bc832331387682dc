build/obj/lib/winapi/protocol.o: lib/winapi/protocol.c \
 include/winapi/protocol.h
include/winapi/protocol.h:
