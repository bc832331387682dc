build/obj/tests/unit/protocol_ut.o: tests/unit/protocol_ut.c \
 include/winapi/protocol.h
include/winapi/protocol.h:
