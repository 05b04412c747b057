//! Socket limits an attacker or a buggy app would hit: a per-user cap,
//! floods of any frame kind, fragmented messages (RFC 6455 §5.4) and the
//! close codes of protocol faults.

use actix_http::ws::Item;
use awc::ws::Message;
use serde_json::json;

use crate::fixtures::{book, id, worked_example};
use crate::helpers::{TestApp, WsClient, spawn_app, spawn_app_with};

fn code(reason: Option<Option<awc::ws::CloseReason>>) -> Option<u16> {
    reason.flatten().map(|r| u16::from(r.code))
}

async fn open(app: &TestApp, token: &str) -> WsClient {
    let mut ws = app.ws(&format!("/ws?token={token}")).await;
    ws.next_of("hello").await;
    ws
}

#[actix_web::test]
async fn one_user_cannot_hold_more_sockets_than_the_cap() {
    let app = spawn_app_with(|s| s.realtime.ws_max_sockets_per_user = 3).await;
    let owner = app.register("many-tabs@example.my", "owner").await;
    let other = app.register("one-tab@example.my", "owner").await;
    let booking = book(&app, &owner, &worked_example()).await;
    let mut held = vec![open(&app, &owner.access).await, open(&app, &owner.access).await];
    // The tracking feed counts too.
    let feed = app.ws(&format!("/ws/tracking/{}?token={}", id(&booking), owner.access)).await;
    let url = format!("{}/ws?token={}", app.address.replace("http://", "ws://"), owner.access);
    let refused = app.client.ws(&url).connect().await;
    match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => assert_eq!(status.as_u16(), 429),
        Err(other) => panic!("unexpected refusal: {other}"),
        Ok(_) => panic!("a fourth socket was accepted"),
    }
    let resp = app
        .client
        .get(format!("{}/ws?token={}", app.address, owner.access))
        .insert_header(("upgrade", "websocket"))
        .insert_header(("connection", "upgrade"))
        .insert_header(("sec-websocket-version", "13"))
        .insert_header(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))
        .send()
        .await
        .unwrap();
    let mut resp = resp;
    assert_eq!(resp.status().as_u16(), 429);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"error": "too many open sockets for this user"}));
    // Another user is not affected, and a closed socket frees its place.
    open(&app, &other.access).await;
    drop(held.pop());
    drop(feed);
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok((_, framed)) = app.client.ws(&url).connect().await {
            reopened = Some(framed);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened.is_some(), "a place freed by a closed socket is taken again");
}

#[actix_web::test]
async fn binary_and_feed_frames_count_toward_the_flood_limit() {
    let app = spawn_app().await;
    let owner = app.register("binary-flood@example.my", "owner").await;
    let mut ws = open(&app, &owner.access).await;
    for _ in 0..80 {
        ws.send_message(Message::Binary(actix_web::web::Bytes::from_static(b"\x00"))).await;
    }
    assert_eq!(code(ws.closed_within(5.0).await), Some(1008), "binary floods close /ws");

    let booking = book(&app, &owner, &worked_example()).await;
    let mut feed = app.ws(&format!("/ws/tracking/{}?token={}", id(&booking), owner.access)).await;
    for _ in 0..80 {
        feed.send(&json!({"type": "hello?"})).await;
    }
    assert_eq!(code(feed.closed_within(5.0).await), Some(1008), "inbound floods close the feed");
}

#[actix_web::test]
async fn an_app_still_sending_when_its_socket_is_closed_gets_the_close_frame_not_a_reset() {
    let app = spawn_app().await;
    let owner = app.register("still-sending@example.my", "owner").await;
    let mut ws = open(&app, &owner.access).await;
    // Over the flood limit (50 frames a second): the server closes with 1008.
    for _ in 0..60 {
        ws.send(&json!({"type": "ping"})).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // A busy app goes on sending before it reads the close frame. Its writes
    // must still be taken: a reset would fail them and could lose the close
    // frame, and with it the reason the socket was closed.
    for i in 0..10 {
        if let Err(err) = ws.try_send(&json!({"type": "ping"})).await {
            panic!("write {i} after the server's close failed: {err}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(code(ws.closed_within(5.0).await), Some(1008));
}

#[actix_web::test]
async fn fragmented_messages_are_reassembled_and_faults_close_with_their_codes() {
    let app = spawn_app().await;
    let owner = app.register("fragments@example.my", "owner").await;
    let frag = |item| Message::Continuation(item);
    let bytes = actix_web::web::Bytes::from_static;

    // A ping split over three frames is one ping.
    let mut ws = open(&app, &owner.access).await;
    ws.send_message(frag(Item::FirstText(bytes(b"{\"type\":")))).await;
    ws.send_message(frag(Item::Continue(bytes(b"\"pi")))).await;
    ws.send_message(frag(Item::Last(bytes(b"ng\"}")))).await;
    assert_eq!(ws.next_of("pong").await, json!({"type": "pong"}));

    // Reassembled, still held to the size limit (4096 bytes): 1009.
    ws.send_message(frag(Item::FirstText(actix_web::web::Bytes::from(vec![b' '; 3000])))).await;
    ws.send_message(frag(Item::Last(actix_web::web::Bytes::from(vec![b' '; 3000])))).await;
    assert_eq!(code(ws.closed_within(5.0).await), Some(1009));

    // Text that is not UTF-8: 1007.
    let mut ws = open(&app, &owner.access).await;
    ws.send_message(frag(Item::FirstText(bytes(b"\xff")))).await;
    ws.send_message(frag(Item::Last(bytes(b"\xfe")))).await;
    assert_eq!(code(ws.closed_within(5.0).await), Some(1007));

    // Frames no well-behaved client library sends, written by hand: a
    // continuation nothing started (1002), a lone text frame that is not
    // UTF-8 (1007), a reserved opcode (1002).
    assert_eq!(raw_close_code(&app, &owner.access, &[frame(0x80, b"x")]).await, Some(1002));
    assert_eq!(raw_close_code(&app, &owner.access, &[frame(0x81, b"\xff\xfe")]).await, Some(1007));
    assert_eq!(raw_close_code(&app, &owner.access, &[frame(0x83, b"x")]).await, Some(1002));

    // One frame over the limit: 1009.
    let mut ws = open(&app, &owner.access).await;
    ws.send_text("x".repeat(10_000)).await;
    assert_eq!(code(ws.closed_within(5.0).await), Some(1009));
}

/// The server's own connection loop under a socket (src/http/ws/conn.rs)
/// loses nothing at the hand-over: an answer still on its way out on a
/// keep-alive connection, and a frame the client sends in the same packet
/// as its handshake.
#[actix_web::test]
async fn a_socket_opened_behind_a_request_with_its_first_frame_in_the_same_packet_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let owner = app.register("one-packet@example.my", "owner").await;
    let host = app.address.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let mut packet = format!(
        "GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /ws?token={} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        owner.access
    )
    .into_bytes();
    packet.extend(frame(0x81, br#"{"type":"ping"}"#));
    tcp.write_all(&packet).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let at = |seen: &[u8], what: &[u8]| seen.windows(what.len()).position(|w| w == what);
    while at(&seen, br#"{"type":"pong"}"#).is_none() {
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no pong within 5 s; got {}", String::from_utf8_lossy(&seen)))
            .unwrap();
        assert!(n > 0, "closed early; got {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let order = [&b"HTTP/1.1 200"[..], b"HTTP/1.1 101", br#""type":"hello""#, br#"{"type":"pong"}"#];
    let places: Vec<_> = order.iter().map(|w| at(&seen, w)).collect();
    assert!(places.iter().all(Option::is_some), "{}", String::from_utf8_lossy(&seen));
    assert!(places.windows(2).all(|p| p[0] < p[1]), "out of order: {}", String::from_utf8_lossy(&seen));
}

/// A masked client frame: `head` is FIN + opcode, payload under 126 bytes.
fn frame(head: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut out = vec![head, 0x80 | payload.len() as u8];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Upgrades `/ws` over a bare TCP socket, writes `frames`, and returns the
/// code of the close frame the server answers with.
async fn raw_close_code(app: &TestApp, token: &str, frames: &[Vec<u8>]) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    // The 101 response, then frames: hello first, then (after ours) a close.
    let mut sent = false;
    loop {
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
        if !sent {
            let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            assert!(seen.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&seen));
            seen.drain(..end + 4);
            for f in frames {
                tcp.write_all(f).await.unwrap();
            }
            sent = true;
        }
        // Walk the server's (unmasked) frames for a close.
        let mut at = 0;
        while seen.len() >= at + 2 {
            let (opcode, len) = (seen[at] & 0x0f, (seen[at + 1] & 0x7f) as usize);
            let (start, len) = match len {
                126 if seen.len() >= at + 4 => (at + 4, u16::from_be_bytes([seen[at + 2], seen[at + 3]]) as usize),
                126 | 127 => break,
                n => (at + 2, n),
            };
            if seen.len() < start + len {
                break;
            }
            if opcode == 0x8 && len >= 2 {
                return Some(u16::from_be_bytes([seen[start], seen[start + 1]]));
            }
            at = start + len;
        }
    }
}
