//! The services' listeners, with `TCP_NODELAY` on every accepted connection.
//!
//! Why: without it, Nagle's algorithm holds back a small write while an
//! earlier one is unacknowledged, and the peer's kernel delays that
//! acknowledgement by up to 40 ms. A gRPC answer is written as DATA and then
//! trailers; on a larger answer (the catalog) the trailers waited those
//! 40 ms, a stall that sat in the caller between its CLIENT span and its
//! handler, where no span explained it. The clients (tonic's `Endpoint`,
//! reqwest) set `TCP_NODELAY` by default; tonic's and axum's servers do not
//! when handed a listener, so every service passes its listener through
//! here.

use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::server::TcpIncoming;

/// A gRPC service's accepted connections, for
/// `Server::serve_with_incoming_shutdown`.
pub fn grpc(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// An HTTP service's listener, for `axum::serve`.
pub fn http(
    listener: TcpListener,
) -> impl axum::serve::Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        // Failing only on a closed socket, which the server finds out itself.
        let _ = tcp.set_nodelay(true);
    })
}
