//! The mio event loop: UDP and TCP sockets, the connection slab, timers, signals.
