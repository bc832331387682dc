build/obj/drivers/bus/sim/sim_host.o: drivers/bus/sim/sim_host.c \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h include/vmbus/sim.h \
 drivers/bus/sim/sim_wire.h
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/vmbus/sim.h:
drivers/bus/sim/sim_wire.h:
