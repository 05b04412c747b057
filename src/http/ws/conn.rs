//! The connection under an upgraded socket.
//!
//! actix-http keeps two 8 KiB buffers for every HTTP/1 connection for as
//! long as it lives (`HW_BUFFER_SIZE`, not configurable). On a REST
//! connection that is right; on a WebSocket that sits idle for hours it was
//! 16 KiB of a 21 KiB socket. So the server hands upgrade requests
//! (`Upgrade: websocket`) here instead (actix-http's `upgrade` service):
//!
//! - the request still goes through the whole actix-web application (the
//!   same routes, middleware and handlers as any request; the `/ws`
//!   handlers start their actix-web-actors session exactly as before);
//! - a 101 answer is then served by [`pump`]: bytes read from the socket
//!   go to the session's payload stream, the session's encoded frames go
//!   to the socket, and nothing is buffered while the socket is idle;
//! - any other answer (401, 429, 503, …) is written whole and the
//!   connection closed.
//!
//! The pump is a task of its own: the connection's task (actix-http's
//! dispatcher, ~2.8 KiB whatever the connection does) ends at the hand-over.
//! Sockets are therefore outside actix-server's count of open connections,
//! so they are counted here ([`OpenSockets`]), and a drain waits for them
//! (`app::Drain`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use actix_codec::{Framed, FramedParts};
use actix_http::body::{BoxBody, MessageBody};
use actix_http::error::PayloadError;
use actix_http::header::{self, HeaderMap};
use actix_http::{Payload, Request, Response, StatusCode, h1};
use actix_web::dev::{AppConfig, Service, ServiceFactory, ServiceResponse};
use actix_web::web::Bytes;
use futures_util::Stream;
use futures_util::future::LocalBoxFuture;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// What actix-http hands over: the request and its connection.
pub type Upgrade = (Request, Framed<TcpStream, h1::Codec>);

/// Bytes read ahead of the session before reading stops (backpressure).
const MAX_QUEUED: usize = 64 * 1024;
/// One read from the socket, at most.
const READ_CHUNK: usize = 4096;
/// A peer that takes no bytes for this long is dropped (a socket that
/// stopped reading would otherwise hold its session for ever).
const WRITE_STALL: Duration = Duration::from_secs(30);
/// How long a closed socket still takes (and drops) what the client sends,
/// so that the client reads our last frame instead of a reset.
const LINGER: Duration = Duration::from_secs(2);
/// The largest answer other than a 101 (they are error envelopes).
const MAX_PLAIN_BODY: usize = 64 * 1024;

/// actix-http's `upgrade` service for one worker. `make_app` builds the
/// worker's application a second time (its state is shared: it is built
/// outside, once per node).
pub fn service<F, A, B>(
    make_app: F,
    open: OpenSockets,
) -> impl ServiceFactory<Upgrade, Config = (), Response = (), Error = actix_web::Error, InitError = ()>
where
    F: Fn() -> A + 'static,
    A: ServiceFactory<Request, Config = AppConfig, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    A::Service: 'static,
    A::InitError: std::fmt::Debug,
    B: MessageBody + 'static,
{
    actix_service::fn_factory(move || {
        let app = make_app().new_service(AppConfig::default());
        let open = open.clone();
        async move {
            let app = Rc::new(app.await.map_err(|err| {
                tracing::error!(?err, "cannot build the application for upgrades");
            })?);
            Ok(actix_service::fn_service(
                move |(req, framed): Upgrade| -> LocalBoxFuture<'static, Result<(), actix_web::Error>> {
                    let (app, open) = (app.clone(), open.clone());
                    Box::pin(async move {
                        // A peer that goes away is the end of its socket, not an error.
                        if let Err(err) = serve(app, req, framed, open).await {
                            tracing::debug!(error = %err, "upgraded connection ended");
                        }
                        Ok(())
                    })
                },
            ))
        }
    })
}

/// One upgrade request, then (on a 101) its socket until either side ends it.
async fn serve<S, B>(
    app: Rc<S>,
    req: Request,
    framed: Framed<TcpStream, h1::Codec>,
    open: OpenSockets,
) -> io::Result<()>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody + 'static,
{
    let FramedParts { io, read_buf, write_buf, .. } = framed.into_parts();
    // The tail of earlier answers on this connection goes first.
    if !write_buf.is_empty() {
        write_all(&io, &write_buf).await?;
    }
    drop(write_buf);
    let inbox = Rc::new(RefCell::new(Inbox::default()));
    if !read_buf.is_empty() {
        // What the client sent right behind its request (a first frame).
        inbox.borrow_mut().push(Bytes::copy_from_slice(&read_buf));
    }
    drop(read_buf);
    let incoming: actix_http::BoxedPayloadStream = Box::pin(Incoming(inbox.clone()));
    let (req, _) = req.replace_payload(Payload::from(incoming));
    // (boxed: the application's future is large, and only lives this long)
    let res: Response<BoxBody> = match Box::pin(app.call(req)).await {
        Ok(res) => res.map_into_boxed_body().into_parts().1.into(),
        Err(err) => err.as_response_error().error_response().into(),
    };
    drop(app);
    if res.status() != StatusCode::SWITCHING_PROTOCOLS {
        return answer_and_close(io, res).await;
    }
    let (res, body) = res.into_parts();
    write_all(&io, &head(res.status(), res.headers(), Framing::Upgrade)).await?;
    drop(res);
    let held = open.hold();
    actix_web::rt::spawn(async move {
        if let Err(err) = pump(io, &inbox, body).await {
            tracing::debug!(error = %err, "socket ended");
        }
        drop(held);
    });
    Ok(())
}

/// Sockets this node serves, for a drain to wait on.
#[derive(Clone, Default)]
pub struct OpenSockets(Arc<Tally>);

#[derive(Default)]
struct Tally {
    open: AtomicUsize,
    closed: tokio::sync::Notify,
}

/// One socket, counted while it lives.
pub struct Held(Arc<Tally>);

impl Drop for Held {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

impl OpenSockets {
    fn hold(&self) -> Held {
        self.0.open.fetch_add(1, Ordering::AcqRel);
        Held(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.open.load(Ordering::Acquire)
    }

    /// Resolves once no socket is open (true), or after `within` (false).
    pub async fn all_closed(&self, within: Duration) -> bool {
        let wait = async {
            loop {
                let closed = self.0.closed.notified();
                if self.count() == 0 {
                    return;
                }
                closed.await;
            }
        };
        tokio::time::timeout(within, wait).await.is_ok()
    }
}

/// What wakes the pump.
enum Event {
    /// The session's next encoded frames, or its end.
    Out(Option<Result<Bytes, Box<dyn std::error::Error>>>),
    /// The socket has bytes (or an end) to read, and the session has room.
    Readable,
    ReadFailed(io::Error),
    /// The session dropped its input (it has ended).
    NoReader,
}

/// Moves bytes both ways until the session's frames end (it stopped, or
/// closed the socket). A closed or failed read ends the session's input,
/// which stops the session, which ends its frames.
///
/// An idle socket's pump holds the socket, the session's body and a flag:
/// readiness is polled on the socket's own registration (no waiter node),
/// reads use a stack buffer, and only a write the peer is slow to take
/// allocates its wait (and its stall timer).
async fn pump(io: TcpStream, inbox: &RefCell<Inbox>, mut body: BoxBody) -> io::Result<()> {
    let mut reading = true;
    // Turns: after frames went out the socket is read first, and the other
    // way round, so neither direction starves the other under load.
    let mut read_first = false;
    loop {
        let event = poll_fn(|cx| {
            if read_first {
                if let Poll::Ready(event) = poll_in(reading, inbox, &io, cx) {
                    return Poll::Ready(event);
                }
            }
            if let Poll::Ready(chunk) = Pin::new(&mut body).poll_next(cx) {
                return Poll::Ready(Event::Out(chunk));
            }
            if read_first { Poll::Pending } else { poll_in(reading, inbox, &io, cx) }
        })
        .await;
        read_first = matches!(event, Event::Out(_));
        match event {
            Event::Out(Some(Ok(bytes))) => {
                if let Err(err) = send(&io, bytes).await {
                    if err.kind() == io::ErrorKind::TimedOut {
                        tracing::info!("socket dropped: the client took no bytes for {}s", WRITE_STALL.as_secs());
                    }
                    inbox.borrow_mut().end(Some(err));
                    return Ok(());
                }
            }
            Event::Out(Some(Err(err))) => {
                tracing::warn!(error = %err, "socket frames failed");
                break;
            }
            Event::Out(None) => break,
            Event::Readable => match read_now(&io) {
                Ok(Some(bytes)) => inbox.borrow_mut().push(bytes),
                Ok(None) => {
                    inbox.borrow_mut().end(None);
                    reading = false;
                }
                // (readiness was stale; try_read cleared it)
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => {
                    inbox.borrow_mut().end(Some(err));
                    reading = false;
                }
            },
            Event::ReadFailed(err) => {
                inbox.borrow_mut().end(Some(err));
                reading = false;
            }
            Event::NoReader => reading = false,
        }
    }
    // Frames are all out; the close frame (if any) is among them.
    close_gently(io).await;
    Ok(())
}

/// Ends the connection the way a peer that may still be sending needs: our
/// FIN follows the last frame, then whatever the client still sends is read
/// and dropped until it closes too (at most [`LINGER`]). Closing with bytes
/// unread (or arriving later) makes the kernel answer with a reset: the
/// client's next write fails, and a close frame it has not read yet may be
/// lost, and with it the reason the socket was closed.
async fn close_gently(mut io: TcpStream) {
    if tokio::time::timeout(LINGER, io.shutdown()).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            if io.readable().await.is_err() {
                return;
            }
            // (the buffer lives for the read only, not in the future)
            let mut buf = [0u8; READ_CHUNK];
            match io.try_read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

/// Whether the socket can be read now (and the session has room).
fn poll_in(reading: bool, inbox: &RefCell<Inbox>, io: &TcpStream, cx: &mut Context<'_>) -> Poll<Event> {
    if !reading {
        return Poll::Pending;
    }
    match inbox.borrow_mut().poll_room(cx) {
        Poll::Ready(true) => {}
        Poll::Ready(false) => return Poll::Ready(Event::NoReader),
        Poll::Pending => return Poll::Pending,
    }
    match io.poll_read_ready(cx) {
        Poll::Ready(Ok(())) => Poll::Ready(Event::Readable),
        Poll::Ready(Err(err)) => Poll::Ready(Event::ReadFailed(err)),
        Poll::Pending => Poll::Pending,
    }
}

/// Writes one chunk: at once when the socket takes it (the usual case),
/// else waiting for the peer, at most [`WRITE_STALL`] (`TimedOut`).
async fn send(io: &TcpStream, bytes: Bytes) -> io::Result<()> {
    let mut sent = 0;
    while sent < bytes.len() {
        match io.try_write(&bytes[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
            Err(err) => return Err(err),
        }
    }
    if sent == bytes.len() {
        return Ok(());
    }
    let slow = Box::pin(tokio::time::timeout(WRITE_STALL, write_all(io, &bytes[sent..])));
    slow.await.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// What the socket holds now, at most one chunk; `None` at end of stream.
/// (The chunk's buffer lives on the stack for the read only: an idle socket
/// holds no read buffer.)
fn read_now(io: &TcpStream) -> io::Result<Option<Bytes>> {
    let mut buf = [0u8; READ_CHUNK];
    match io.try_read(&mut buf)? {
        0 => Ok(None),
        n => Ok(Some(Bytes::copy_from_slice(&buf[..n]))),
    }
}

async fn write_all(io: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        io.writable().await?;
        match io.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// An answer other than a 101, whole, and the connection closed (what
/// follows an upgrade request on the wire is not HTTP).
async fn answer_and_close(io: TcpStream, res: Response<BoxBody>) -> io::Result<()> {
    let (res, body) = res.into_parts();
    let body =
        actix_http::body::to_bytes_limited(body, MAX_PLAIN_BODY).await.ok().and_then(Result::ok).unwrap_or_default();
    let mut out = head(res.status(), res.headers(), Framing::Length(body.len()));
    out.extend_from_slice(&body);
    write_all(&io, &out).await?;
    close_gently(io).await;
    Ok(())
}

enum Framing {
    /// A 101: the connection becomes the socket.
    Upgrade,
    /// A whole body of this length, then the connection closes.
    Length(usize),
}

/// An HTTP/1.1 response head: status line, the answer's headers, and the
/// framing headers this connection needs.
fn head(status: StatusCode, headers: &HeaderMap, framing: Framing) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers.iter() {
        if name == header::CONNECTION || name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Upgrade => out.extend_from_slice(b"connection: upgrade\r\n"),
        Framing::Length(len) => {
            out.extend_from_slice(format!("content-length: {len}\r\nconnection: close\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes read from the socket, not yet taken by the session. The pump and
/// the session run in the same task; the wakers are for the task's
/// `select!` (one side waits for the other).
#[derive(Default)]
struct Inbox {
    chunks: VecDeque<Bytes>,
    queued: usize,
    /// The input has ended: cleanly (`None`) or with an error.
    ended: Option<Option<io::Error>>,
    reader_gone: bool,
    /// The session, waiting for bytes.
    reader: Option<Waker>,
    /// The pump, waiting for room.
    feeder: Option<Waker>,
}

impl Inbox {
    fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.chunks.push_back(bytes);
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn end(&mut self, error: Option<io::Error>) {
        if self.ended.is_none() {
            self.ended = Some(error);
        }
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    /// Ready(true) when there is room for more input, Ready(false) when
    /// nobody will read it.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if self.reader_gone {
            Poll::Ready(false)
        } else if self.queued < MAX_QUEUED {
            Poll::Ready(true)
        } else {
            self.feeder = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// The session's side of the inbox: its request payload.
struct Incoming(Rc<RefCell<Inbox>>);

impl Stream for Incoming {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inbox = self.0.borrow_mut();
        if let Some(bytes) = inbox.chunks.pop_front() {
            inbox.queued -= bytes.len();
            if let Some(w) = inbox.feeder.take() {
                w.wake();
            }
            if inbox.chunks.is_empty() {
                // An idle socket keeps no queue storage.
                inbox.chunks = VecDeque::new();
            }
            return Poll::Ready(Some(Ok(bytes)));
        }
        match inbox.ended.as_mut() {
            Some(error) => Poll::Ready(error.take().map(|err| Err(PayloadError::Io(err)))),
            None => {
                inbox.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let mut inbox = self.0.borrow_mut();
        inbox.reader_gone = true;
        inbox.chunks.clear();
        if let Some(w) = inbox.feeder.take() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_101_head_says_upgrade_and_keeps_the_handshake_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, header::HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from_static("0"));
        let text = String::from_utf8(head(StatusCode::SWITCHING_PROTOCOLS, &headers, Framing::Upgrade)).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"), "{text}");
        assert!(text.contains("upgrade: websocket\r\n"));
        assert!(text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("connection: upgrade\r\n"));
        assert!(!text.contains("content-length"), "a socket has no length: {text}");
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_refusal_is_framed_by_its_length_and_closes_the_connection() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
        headers.insert(header::TRANSFER_ENCODING, header::HeaderValue::from_static("chunked"));
        let text = String::from_utf8(head(StatusCode::UNAUTHORIZED, &headers, Framing::Length(17))).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"));
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(text.contains("content-length: 17\r\nconnection: close\r\n\r\n"));
        assert!(!text.contains("chunked"));
    }

    #[test]
    fn the_inbox_stops_the_reader_when_full_and_lets_it_go_on_when_drained() {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let mut incoming = Incoming(inbox.clone());
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(inbox.borrow_mut().poll_room(&mut cx), Poll::Ready(true));
        inbox.borrow_mut().push(Bytes::from(vec![0u8; MAX_QUEUED]));
        assert_eq!(inbox.borrow_mut().poll_room(&mut cx), Poll::Pending, "full: stop reading the socket");
        let Poll::Ready(Some(Ok(chunk))) = Pin::new(&mut incoming).poll_next(&mut cx) else {
            panic!("the queued chunk comes out");
        };
        assert_eq!(chunk.len(), MAX_QUEUED);
        assert_eq!(inbox.borrow_mut().poll_room(&mut cx), Poll::Ready(true));
        assert!(Pin::new(&mut incoming).poll_next(&mut cx).is_pending(), "nothing more yet");
        inbox.borrow_mut().end(None);
        assert!(matches!(Pin::new(&mut incoming).poll_next(&mut cx), Poll::Ready(None)), "a clean end");
        drop(incoming);
        assert_eq!(inbox.borrow_mut().poll_room(&mut cx), Poll::Ready(false), "nobody reads any more");
    }

    #[test]
    fn a_read_error_reaches_the_session_once() {
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let mut incoming = Incoming(inbox.clone());
        let mut cx = Context::from_waker(Waker::noop());
        inbox.borrow_mut().end(Some(io::ErrorKind::ConnectionReset.into()));
        assert!(matches!(Pin::new(&mut incoming).poll_next(&mut cx), Poll::Ready(Some(Err(PayloadError::Io(_))))));
        assert!(matches!(Pin::new(&mut incoming).poll_next(&mut cx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn a_drain_waits_for_the_last_socket_and_no_longer() {
        let open = OpenSockets::default();
        assert!(open.all_closed(Duration::from_millis(1)).await, "none open: at once");
        let (a, b) = (open.hold(), open.hold());
        assert_eq!(open.count(), 2);
        assert!(!open.all_closed(Duration::from_millis(20)).await, "two open: the wait times out");
        let closing = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(a);
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(b);
        });
        assert!(open.all_closed(Duration::from_secs(5)).await, "resolves when the last one closes");
        assert_eq!(open.count(), 0);
        closing.await.unwrap();
    }
}
