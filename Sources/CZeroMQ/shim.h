#ifndef PIPPS_CZEROMQ_SHIM_H
#define PIPPS_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#endif
