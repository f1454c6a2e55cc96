//! Where a request comes from, for the sign-in throttle (`vigie_app::throttle`).
use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

/// The client's address ([`client_address`]) as a handler argument.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(&parts.extensions, &parts.headers)))
    }
}

/// The address a request comes from: the peer's or, when the peer is a reverse proxy on this
/// machine (a loopback address), the last address that proxy added to `X-Forwarded-For`.
/// Further entries could be written by anyone and are ignored. None when the server was not
/// given the peer's address (tests that call the router directly).
pub fn client_address(extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<std::net::SocketAddr>>()?.0.ip();
    if !peer.is_loopback() {
        return Some(peer);
    }
    let forwarded =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).last();
    Some(forwarded.and_then(|a| a.trim().parse().ok()).unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_are_trusted_only_from_a_local_proxy() {
        let with = |peer: &str, forwarded: Option<&str>| {
            let mut extensions = Extensions::new();
            extensions.insert(ConnectInfo(std::net::SocketAddr::new(peer.parse().unwrap(), 40000)));
            let mut headers = HeaderMap::new();
            if let Some(f) = forwarded {
                headers.insert("x-forwarded-for", f.parse().unwrap());
            }
            client_address(&extensions, &headers).map(|a| a.to_string())
        };
        assert_eq!(with("127.0.0.1", Some("198.51.100.1, 203.0.113.9")), Some("203.0.113.9".into()));
        assert_eq!(with("127.0.0.1", None), Some("127.0.0.1".into()));
        assert_eq!(with("127.0.0.1", Some("not an address")), Some("127.0.0.1".into()));
        assert_eq!(
            with("192.0.2.4", Some("203.0.113.9")),
            Some("192.0.2.4".into()),
            "a remote peer cannot pick its address"
        );
        assert_eq!(client_address(&Extensions::new(), &HeaderMap::new()), None);
    }
}
