//! What a socket receives, made into whole messages (RFC 6455): fragmented
//! messages reassembled (RFC 6455 §5.4) up to the frame limit, every data frame
//! counted against the flood limit (text, binary and fragments alike), and
//! each protocol fault mapped to its close code: 1009 too big, 1007 text
//! that is not UTF-8, 1002 any other protocol error, 1008 a flood.

use std::time::{Duration, Instant};

use actix_http::ws::Item;
use actix_web::web::{Bytes, BytesMut};
use actix_web_actors::ws::{self, CloseCode, CloseReason, ProtocolError};

/// One whole inbound message, or why the socket must close.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    /// A pong, or a fragment of a message still being assembled.
    Nothing,
    Close(Option<CloseReason>),
    /// Close with this reason and stop.
    Abort(CloseReason),
}

fn abort(code: CloseCode, why: impl Into<String>) -> Inbound {
    Inbound::Abort(CloseReason { code, description: Some(why.into()) })
}

pub struct Assembler {
    max_bytes: usize,
    max_frames_per_sec: u32,
    window_start: Instant,
    frames_in_window: u32,
    /// (is text, bytes so far) while a fragmented message arrives.
    partial: Option<(bool, BytesMut)>,
}

impl Assembler {
    pub fn new(max_bytes: usize, max_frames_per_sec: u32) -> Self {
        Self { max_bytes, max_frames_per_sec, window_start: Instant::now(), frames_in_window: 0, partial: None }
    }

    /// True when this data frame is one too many for the current second.
    fn flooded(&mut self) -> bool {
        if self.window_start.elapsed() >= Duration::from_secs(1) {
            self.window_start = Instant::now();
            self.frames_in_window = 0;
        }
        self.frames_in_window += 1;
        self.frames_in_window > self.max_frames_per_sec
    }

    pub fn accept(&mut self, msg: Result<ws::Message, ProtocolError>) -> Inbound {
        let msg = match msg {
            Ok(msg) => msg,
            Err(err) => return protocol_fault(&err),
        };
        let is_data = matches!(msg, ws::Message::Text(_) | ws::Message::Binary(_) | ws::Message::Continuation(_));
        if is_data && self.flooded() {
            return abort(CloseCode::Policy, "too many frames");
        }
        match msg {
            ws::Message::Text(text) => Inbound::Text(text.to_string()),
            ws::Message::Binary(bytes) => Inbound::Binary(bytes),
            ws::Message::Ping(bytes) => Inbound::Ping(bytes),
            ws::Message::Pong(_) | ws::Message::Nop => Inbound::Nothing,
            ws::Message::Close(reason) => Inbound::Close(reason),
            ws::Message::Continuation(item) => self.fragment(item),
        }
    }

    fn fragment(&mut self, item: Item) -> Inbound {
        let (first, bytes, last) = match item {
            Item::FirstText(b) => (Some(true), b, false),
            Item::FirstBinary(b) => (Some(false), b, false),
            Item::Continue(b) => (None, b, false),
            Item::Last(b) => (None, b, true),
        };
        match (first, self.partial.as_mut()) {
            (Some(_), Some(_)) => return abort(CloseCode::Protocol, "a new message began inside a fragmented one"),
            (None, None) => return abort(CloseCode::Protocol, "continuation without a first fragment"),
            (Some(is_text), None) => self.partial = Some((is_text, BytesMut::new())),
            (None, Some(_)) => {}
        }
        let Some((is_text, buf)) = self.partial.as_mut() else {
            return Inbound::Nothing;
        };
        if buf.len() + bytes.len() > self.max_bytes {
            self.partial = None;
            return abort(CloseCode::Size, format!("message larger than {} bytes", self.max_bytes));
        }
        buf.extend_from_slice(&bytes);
        if !last {
            return Inbound::Nothing;
        }
        let is_text = *is_text;
        let Some((_, whole)) = self.partial.take() else {
            return Inbound::Nothing;
        };
        if !is_text {
            return Inbound::Binary(whole.freeze());
        }
        match String::from_utf8(whole.to_vec()) {
            Ok(text) => Inbound::Text(text),
            Err(_) => abort(CloseCode::Invalid, "text message is not UTF-8"),
        }
    }
}

fn protocol_fault(err: &ProtocolError) -> Inbound {
    match err {
        ProtocolError::Overflow => abort(CloseCode::Size, err.to_string()),
        // actix reports a text frame that is not UTF-8 as an I/O error.
        ProtocolError::Io(io) if io.to_string().to_ascii_lowercase().contains("utf-8") => {
            abort(CloseCode::Invalid, "text message is not UTF-8")
        }
        other => abort(CloseCode::Protocol, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(inbound: Inbound) -> Option<u16> {
        match inbound {
            Inbound::Abort(reason) => Some(u16::from(reason.code)),
            _ => None,
        }
    }

    fn cont(item: Item) -> Result<ws::Message, ProtocolError> {
        Ok(ws::Message::Continuation(item))
    }

    #[test]
    fn fragments_are_reassembled_into_one_message() {
        let mut a = Assembler::new(64, 100);
        assert!(matches!(a.accept(cont(Item::FirstText(Bytes::from_static(b"{\"type\":")))), Inbound::Nothing));
        assert!(matches!(a.accept(cont(Item::Continue(Bytes::from_static(b"\"pi")))), Inbound::Nothing));
        match a.accept(cont(Item::Last(Bytes::from_static(b"ng\"}")))) {
            Inbound::Text(text) => assert_eq!(text, r#"{"type":"ping"}"#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn faults_close_with_their_codes() {
        let mut a = Assembler::new(8, 100);
        a.accept(cont(Item::FirstText(Bytes::from_static(b"12345"))));
        assert_eq!(code(a.accept(cont(Item::Last(Bytes::from_static(b"6789"))))), Some(1009));
        assert_eq!(code(a.accept(cont(Item::Continue(Bytes::from_static(b"x"))))), Some(1002));
        a.accept(cont(Item::FirstText(Bytes::from_static(b"\xff"))));
        assert_eq!(code(a.accept(cont(Item::Last(Bytes::from_static(b"\xfe"))))), Some(1007));
        assert_eq!(code(a.accept(Err(ProtocolError::Overflow))), Some(1009));
        assert_eq!(code(a.accept(Err(ProtocolError::BadOpCode))), Some(1002));
        let not_utf8 = std::io::Error::other("invalid utf-8 sequence of 1 bytes from index 0");
        assert_eq!(code(a.accept(Err(ProtocolError::Io(not_utf8)))), Some(1007));
    }

    #[test]
    fn binary_frames_and_fragments_count_toward_the_flood_limit() {
        let mut a = Assembler::new(64, 3);
        assert!(matches!(a.accept(Ok(ws::Message::Binary(Bytes::from_static(b"x")))), Inbound::Binary(_)));
        a.accept(cont(Item::FirstBinary(Bytes::from_static(b"x"))));
        a.accept(cont(Item::Last(Bytes::from_static(b"x"))));
        assert_eq!(code(a.accept(Ok(ws::Message::Binary(Bytes::from_static(b"x"))))), Some(1008));
        // Control frames do not count.
        let mut b = Assembler::new(64, 1);
        for _ in 0..5 {
            assert!(matches!(b.accept(Ok(ws::Message::Ping(Bytes::new()))), Inbound::Ping(_)));
        }
    }
}
