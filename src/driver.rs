//! The one loop that runs a host [`Connection`] over a byte stream, for
//! every runtime (tokio natively, the Worker's TCP socket and tunnel): the
//! runtime supplies a [`Transport`] (bytes, its clock, randomness) and a
//! [`Decider`] (the host model behind its registry); everything a
//! connection does — framing, answers, limits, shutdown — is the core's.
//! Written once so the hosts cannot drift apart in what they enforce.
use crate::host::{Activation, CloseReason, Config, Connection, Decision, Event, MAX_REPLY, Millis, Transmitted};
use crate::host::connection::RX_CAP;
use crate::kms::ResponseRandom;
use std::boxed::Box;

/// What a wait for the client's bytes ended with.
#[derive(Debug)]
pub enum Recv<E> {
    /// This many bytes are at the start of the buffer.
    Data(usize),
    /// The client closed its side.
    Closed,
    /// The deadline passed first.
    Timeout,
    /// The host began shutting down; connections get this long to finish.
    Shutdown { grace: Millis },
    Failed(E),
}

/// Why a send did not complete.
#[derive(Debug)]
pub enum SendError<E> {
    /// The client did not take the bytes before the deadline.
    Timeout,
    Failed(E),
}

/// Bytes, time and randomness, as one runtime provides them.
#[allow(async_fn_in_trait)] // the Worker is single-threaded: no Send bound wanted
pub trait Transport {
    type Error;
    /// Milliseconds since this connection was accepted.
    fn now(&self) -> Millis;
    /// Waits for bytes into `buf` (never more than `buf.len()`), until
    /// `deadline` at the latest.
    async fn recv(&mut self, buf: &mut [u8], deadline: Option<Millis>) -> Recv<Self::Error>;
    /// Sends all of `bytes`, until `deadline` at the latest.
    async fn send(&mut self, bytes: &[u8], deadline: Option<Millis>) -> Result<(), SendError<Self::Error>>;
    /// A fresh association group id (random, never constant).
    fn assoc_group(&mut self) -> u32;
    /// Fresh V5 salt and V6 response IV for one response.
    fn response_random(&mut self) -> ResponseRandom;
}

/// The host behind the connection: decides each activation (recording it
/// first), and hears what else was sent.
#[allow(async_fn_in_trait)]
pub trait Decider {
    type Error;
    async fn decide(&self, activation: &Activation) -> Result<Decision, Self::Error>;
    /// A PDU the core answered by itself (for metrics); nothing by default.
    fn transmitted(&self, _what: Transmitted) {}
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ending<T, D> {
    /// The client closed its side.
    ClientClosed,
    /// The core closed it: a limit, shutdown, or a PDU it does not serve.
    Closed(CloseReason),
    /// The core answered a PDU it could not trust and asked to close.
    Refused,
    /// The client stopped reading our replies.
    SendTimeout,
    Transport(T),
    /// The host could not decide (the registry failed): nothing was
    /// answered, so the client retries later as with any unreachable host.
    Decider(D),
    /// The core neither consumed input nor rejected it (defensive: never
    /// seen; the loop must not spin).
    Stalled,
}

/// Runs one client connection to its end.
pub async fn serve<T: Transport, D: Decider>(t: &mut T, decider: &D, config: Config) -> Ending<T::Error, D::Error> {
    // ~6 KiB of state: on the heap, not on a (small) task or wasm stack.
    let mut conn = Box::new(Connection::new(config, t.assoc_group()));
    let mut out = [0u8; MAX_REPLY];
    let mut rx = [0u8; 2048];
    loop {
        loop {
            match conn.poll(&mut out) {
                Event::NeedData => break,
                Event::Close(why) => return Ending::Closed(why),
                Event::Transmit { len, close, what } => {
                    decider.transmitted(what);
                    if let Err(e) = t.send(&out[..len], conn.poll_timeout()).await {
                        return e.into();
                    }
                    if close {
                        return Ending::Refused;
                    }
                }
                Event::Activation(a) => {
                    let decision = match decider.decide(&a).await {
                        Ok(d) => d,
                        Err(e) => return Ending::Decider(e),
                    };
                    let len = conn.answer(&decision, &t.response_random(), &mut out);
                    if len == 0 {
                        return Ending::Stalled;
                    }
                    if let Err(e) = t.send(&out[..len], conn.poll_timeout()).await {
                        return e.into();
                    }
                }
            }
        }
        // Never read more than the connection can take, so `receive` takes
        // all of it: while it needs data, a PDU is incomplete and shorter
        // than its buffer.
        let room = (RX_CAP - conn.buffered()).min(rx.len());
        if room == 0 {
            return Ending::Stalled;
        }
        match t.recv(&mut rx[..room], conn.poll_timeout()).await {
            Recv::Data(n) => {
                let now = t.now();
                if conn.receive(now, &rx[..n]) != n {
                    return Ending::Stalled;
                }
            }
            Recv::Closed => return Ending::ClientClosed,
            Recv::Timeout => conn.handle_timeout(t.now()),
            Recv::Shutdown { grace } => conn.shutdown(t.now(), grace),
            Recv::Failed(e) => return Ending::Transport(e),
        }
    }
}

impl<T, D> From<SendError<T>> for Ending<T, D> {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Timeout => Ending::SendTimeout,
            SendError::Failed(e) => Ending::Transport(e),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::client::{Options, RequestBuilder, Session};
    use crate::host::{Grant, Limits};
    use crate::time::FileTime;
    use std::cell::Cell;
    use std::collections::VecDeque;
    use std::vec::Vec;

    /// A scripted client: chunks to deliver at given times, what was sent.
    struct Script {
        now: Millis,
        input: VecDeque<(Millis, Vec<u8>)>,
        sent: Vec<Vec<u8>>,
    }

    impl Transport for Script {
        type Error = ();
        fn now(&self) -> Millis {
            self.now
        }
        async fn recv(&mut self, buf: &mut [u8], deadline: Option<Millis>) -> Recv<()> {
            match self.input.front_mut() {
                None => Recv::Closed,
                Some((at, _)) if deadline.is_some_and(|d| d < *at) => {
                    self.now = deadline.unwrap();
                    Recv::Timeout
                }
                Some((at, bytes)) => {
                    self.now = *at;
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    bytes.drain(..n);
                    if bytes.is_empty() {
                        self.input.pop_front();
                    }
                    Recv::Data(n)
                }
            }
        }
        async fn send(&mut self, bytes: &[u8], _: Option<Millis>) -> Result<(), SendError<()>> {
            self.sent.push(bytes.to_vec());
            Ok(())
        }
        fn assoc_group(&mut self) -> u32 {
            77
        }
        fn response_random(&mut self) -> ResponseRandom {
            ResponseRandom { salt: [1; 16], iv: [2; 16] }
        }
    }

    struct Count(Cell<u32>, Cell<u32>);
    impl Decider for Count {
        type Error = ();
        async fn decide(&self, _: &Activation) -> Result<Decision, ()> {
            self.0.set(self.0.get() + 1);
            Ok(Decision::Grant(Grant {
                epid: crate::epid::Epid::parse("03612-00206-560-123456-03-1033-17763.0000-3652023").unwrap(),
                hwid: [0; 8],
                current_count: 50,
                activation_interval: 120,
                renewal_interval: 10_080,
            }))
        }
        fn transmitted(&self, _: Transmitted) {
            self.1.set(self.1.get() + 1);
        }
    }

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        // The scripted transport never pends.
        let mut f = core::pin::pin!(f);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(v) => v,
            core::task::Poll::Pending => panic!("pended"),
        }
    }

    /// A bind and `requests` request PDUs, as one client sends them.
    fn conversation(requests: usize) -> Vec<Vec<u8>> {
        let mut s = Session::new(Options { offer_ndr64: false, ..Options::default() }, 2);
        let mut a = [0u8; 512];
        let n = s.bind(&mut a);
        let mut all = std::vec![a[..n].to_vec()];
        // The client needs the host's bind_ack before it can send requests.
        let mut host = Connection::new(Config::default(), 1);
        let mut ack = [0u8; MAX_REPLY];
        host.receive(0, &a[..n]);
        let Event::Transmit { len, .. } = host.poll(&mut ack) else { panic!("bind") };
        s.on_bind_ack(&ack[..len]).unwrap();
        let sku = &crate::catalog::SKUS[0];
        let repr = RequestBuilder::for_sku(sku).time(FileTime::from_unix(1_717_200_000)).build();
        let mut msg = [0u8; 300];
        let m = crate::kms::seal_request(&repr, &[1; 16], &mut msg);
        for _ in 0..requests {
            let n = s.request(&msg[..m], &mut a).unwrap();
            all.push(a[..n].to_vec());
        }
        all
    }

    #[test]
    fn answers_everything_then_reports_the_client_closing() {
        let bytes = conversation(3).concat();
        // Delivered one byte at a time: framing is the core's.
        let input = bytes.iter().map(|b| (5, std::vec![*b])).collect();
        let mut t = Script { now: 0, input, sent: Vec::new() };
        let d = Count(Cell::new(0), Cell::new(0));
        let end = block_on(serve(&mut t, &d, Config::default()));
        assert!(matches!(end, Ending::ClientClosed), "{end:?}");
        assert_eq!((d.0.get(), d.1.get(), t.sent.len()), (3, 1, 4));
    }

    #[test]
    fn limits_come_from_the_core() {
        let limits = Limits { idle_timeout: 100, max_lifetime: 1_000, max_requests: 2 };
        let config = Config { limits, ..Config::default() };
        let d = Count(Cell::new(0), Cell::new(0));
        // A third request on one connection.
        let mut t = Script { now: 0, input: [(1, conversation(3).concat())].into(), sent: Vec::new() };
        let end = block_on(serve(&mut t, &d, config));
        assert!(matches!(end, Ending::Closed(CloseReason::RequestLimit)), "{end:?}");
        assert_eq!(d.0.get(), 2);
        // Silence after the bind.
        let pdus = conversation(1);
        let mut t = Script { now: 0, input: [(1, pdus[0].clone()), (500, pdus[1].clone())].into(), sent: Vec::new() };
        let end = block_on(serve(&mut t, &d, config));
        assert!(matches!(end, Ending::Closed(CloseReason::IdleTimeout)), "{end:?}");
        assert_eq!(t.now, 101, "woken at the idle deadline");
    }
}
