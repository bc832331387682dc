build/obj/drivers/bus/sim/sim_wire.o: drivers/bus/sim/sim_wire.c \
 include/vmbus/sim.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h drivers/bus/sim/sim_wire.h
include/vmbus/sim.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
drivers/bus/sim/sim_wire.h:
