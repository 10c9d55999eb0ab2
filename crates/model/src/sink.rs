//! Streaming consumers: sources hand each socket to a [`SocketSink`] as it is decoded.

use crate::{Socket, StateCounts};

/// Receives sockets one at a time. Sources call [`SocketSink::socket`] for every socket that
/// passed the kernel-side filter; the reference is only valid for the call (sources reuse one
/// buffer), so a sink that keeps sockets must clone them.
pub trait SocketSink {
    /// One socket.
    fn socket(&mut self, s: &Socket);

    /// Whether the consumer wants no more sockets (its output pipe closed, say). Sources check
    /// it between batches and stop early; the default is never.
    fn stopped(&self) -> bool {
        false
    }
}

/// A sink made from a closure.
pub struct FnSink<F: FnMut(&Socket)>(pub F);

impl<F: FnMut(&Socket)> SocketSink for FnSink<F> {
    fn socket(&mut self, s: &Socket) {
        (self.0)(s)
    }
}

/// Collects every socket.
#[derive(Debug, Default)]
pub struct VecSink(pub Vec<Socket>);

impl SocketSink for VecSink {
    fn socket(&mut self, s: &Socket) {
        self.0.push(s.clone());
    }
}

/// Counts sockets per state and nothing else.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingSink(pub StateCounts);

impl SocketSink for CountingSink {
    #[inline]
    fn socket(&mut self, s: &Socket) {
        self.0.add(s.state);
    }
}

impl<T: SocketSink + ?Sized> SocketSink for &mut T {
    fn socket(&mut self, s: &Socket) {
        (**self).socket(s)
    }

    fn stopped(&self) -> bool {
        (**self).stopped()
    }
}
