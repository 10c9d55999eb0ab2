//! Live sources: netlink sock_diag, /proc/net/tcp, process attribution, namespaces, kernel context.
