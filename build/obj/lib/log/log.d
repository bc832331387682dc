build/obj/lib/log/log.o: lib/log/log.c include/winapi/log.h
include/winapi/log.h:
