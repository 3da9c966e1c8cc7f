//! `tandem healthcheck`: the container's own liveness probe. The image is
//! distroless (no shell, no curl), so `docker run` users and runtimes that
//! honour the Dockerfile's HEALTHCHECK need the binary itself to ask.
//! Kubernetes probes `/healthz` over HTTP and does not use this.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Whether the server bound to `bind_addr` answers `GET /healthz` with 200
/// within `timeout`. A wildcard bind address is asked on loopback.
pub fn healthz(bind_addr: SocketAddr, timeout: Duration) -> bool {
    let mut target = bind_addr;
    if target.ip().is_unspecified() {
        target.set_ip(match target.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let Ok(mut stream) = TcpStream::connect_timeout(&target, timeout) else {
        return false;
    };
    let exchanged = stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.set_write_timeout(Some(timeout)).is_ok()
        && stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .is_ok();
    let mut status_line = [0u8; 12];
    exchanged
        && stream.read_exact(&mut status_line).is_ok()
        && status_line.starts_with(b"HTTP/1.")
        && &status_line[9..12] == b"200"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listening_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(!healthz(addr, Duration::from_millis(500)));
    }
}
