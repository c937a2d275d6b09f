//! The TCP entry path: the Worker's `connect()` handler. Locally `wrangler
//! dev` feeds it from the `[[connect]]` listener; in production another
//! Worker forwards raw TCP to it over a service binding.
//!
//! The socket is read through its JS streams directly rather than through
//! `worker::Socket`'s tokio traits, because naming those traits would pull
//! tokio into the wasm build for nothing.
use super::driver::{ByteStream, StreamError};
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStreamDefaultReader, WritableStreamDefaultWriter};
use worker::worker_sys::Socket;

/// The `remote` recorded for clients that came through `connect()`.
pub const REMOTE: &str = "tcp";

pub struct TcpStream {
    socket: Socket,
    reader: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
}

fn io(e: JsValue) -> StreamError {
    StreamError::Io(e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

impl TcpStream {
    pub fn new(socket: Socket) -> Result<TcpStream, StreamError> {
        let reader = socket.readable().map_err(io)?.get_reader().dyn_into().map_err(|o| io(o.into()))?;
        let writer = socket.writable().map_err(io)?.get_writer().map_err(io)?;
        Ok(TcpStream { socket, reader, writer })
    }

    /// Closes both directions; errors (the peer already gone) do not matter.
    pub async fn close(self) {
        let _ = JsFuture::from(self.writer.close()).await;
        if let Ok(p) = self.socket.close() {
            let _ = JsFuture::from(p).await;
        }
    }
}

impl ByteStream for TcpStream {
    async fn recv(&mut self) -> Result<Option<Vec<u8>>, StreamError> {
        let r = JsFuture::from(self.reader.read()).await.map_err(io)?;
        if Reflect::get(&r, &JsValue::from_str("done")).map_err(io)?.is_truthy() {
            return Ok(None);
        }
        let v = Reflect::get(&r, &JsValue::from_str("value")).map_err(io)?;
        let arr: Uint8Array = v.dyn_into().map_err(io)?;
        Ok(Some(arr.to_vec()))
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let chunk = Uint8Array::from(data);
        JsFuture::from(self.writer.write_with_chunk(&chunk)).await.map_err(io)?;
        Ok(())
    }
}
