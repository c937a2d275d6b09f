//! The WebSocket entry path: each binary message carries the next bytes of
//! the client's TCP stream, in both directions — what `cloudflared access
//! tcp` and `kmsedge bridge` put on the wire. The credential was checked
//! before the upgrade (see `auth`); here only bytes flow.
use super::driver::{ByteStream, EdgeEnding, StreamError};
use super::registry_client::DecideError;
use crate::driver::Ending;
use crate::host::CloseReason;
use futures_util::StreamExt;
use worker::js_sys::{ArrayBuffer, Uint8Array};
use worker::wasm_bindgen::JsCast;
use worker::web_sys::BinaryType;
use worker::{EventStream, WebSocket, WebsocketEvent};

/// Largest message accepted: a KMS PDU is at most a few KiB and a client
/// sends one request at a time, so anything this large is not KMS. A bigger
/// message closes the tunnel with 1009 before its bytes are looked at.
pub const MAX_MESSAGE: usize = 64 * 1024;

pub struct WsStream<'a> {
    ws: &'a WebSocket,
    events: EventStream<'a>,
}

impl<'a> WsStream<'a> {
    /// Accepts the server end (before the 101 goes out) and asks for
    /// `ArrayBuffer` messages: with current compatibility dates they would
    /// otherwise arrive as `Blob`, whose bytes a Worker cannot read
    /// synchronously.
    pub fn accept(ws: &WebSocket) -> worker::Result<()> {
        ws.accept()?;
        ws.as_ref().set_binary_type(BinaryType::Arraybuffer);
        Ok(())
    }

    /// Starts listening. Called from the task spawned by the upgrade
    /// handler: it runs as a microtask, before any message event can be
    /// dispatched, so nothing the client sends is missed.
    pub fn listen(ws: &'a WebSocket) -> worker::Result<WsStream<'a>> {
        Ok(WsStream { ws, events: ws.events()? })
    }

    /// Closes with a code that tells the peer why; `shed`: the registry
    /// shed this connection for a newcomer of its branch (the only reason
    /// an edge connection is shut down).
    pub fn close(&self, ending: &EdgeEnding, shed: bool) {
        let (code, reason) = match ending {
            Ending::Closed(CloseReason::Shutdown) if shed => {
                (1013, "branch at its tunnel connection cap: connection shed for a newcomer; reconnect later")
            }
            Ending::Transport(StreamError::Oversized(_)) => (1009, "message too big"),
            Ending::Transport(StreamError::Text) => (1003, "binary messages only"),
            Ending::Decider(DecideError::OverLimit) => (1013, "branch over its activation rate; try again later"),
            Ending::Decider(_) | Ending::Stalled => (1011, "host error"),
            Ending::Closed(CloseReason::IdleTimeout) => (1000, "idle timeout"),
            _ => (1000, "closed"),
        };
        // Fails only if the peer already closed; nothing left to do then.
        let _ = self.ws.close(Some(code), Some(reason));
    }
}

impl ByteStream for WsStream<'_> {
    async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        // Empty messages carry nothing; skipping them is bounded by what the
        // peer sends, and the caller's idle timeout still applies.
        loop {
            match self.events.next().await {
                None | Some(Ok(WebsocketEvent::Close(_))) => return Ok(None),
                Some(Err(e)) => return Err(StreamError::Io(e.to_string())),
                Some(Ok(WebsocketEvent::Message(m))) => {
                    let data = m.as_ref().data();
                    if data.is_string() {
                        return Err(StreamError::Text);
                    }
                    // Size first: an oversized message is never copied into wasm memory.
                    let Some(buf) = data.dyn_ref::<ArrayBuffer>() else {
                        return Err(StreamError::Io("message is neither text nor ArrayBuffer".into()));
                    };
                    match buf.byte_length() as usize {
                        0 => continue,
                        n if n > MAX_MESSAGE => return Err(StreamError::Oversized(n)),
                        _ => return Ok(Some(Uint8Array::new(buf).to_vec())),
                    }
                }
            }
        }
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), StreamError> {
        self.ws.send_with_bytes(data).map_err(|e| StreamError::Io(e.to_string()))
    }
}
