//! The fake's front door: a TCP relay that can hang up on a client.
//!
//! tiny_http keeps the sockets it accepts to itself, and a request it is
//! handed back unanswered is answered 500, so through tiny_http alone the fake
//! could never close a connection without saying something. The fake
//! therefore accepts clients on its own listener and relays each connection,
//! byte for byte, to tiny_http over a second loopback connection. Each relay
//! is filed under the local address of its second connection, which is the
//! peer address tiny_http reports for the requests it carries; to drop a
//! request, the fake shuts both sockets of that relay. The client then reads
//! an end of stream where it expected a status line.
//!
//! A relay costs two threads per client connection (one per direction);
//! keep-alive clients reuse theirs, so a benchmark pays for it once.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The relay buffer, per direction.
const BUFFER_LEN: usize = 16 * 1024;

/// The two sockets of one relayed connection.
#[derive(Debug)]
struct Relay {
    /// The client's connection, accepted by the front.
    client: TcpStream,
    /// The connection to tiny_http.
    upstream: TcpStream,
}

impl Relay {
    /// Ends the connection both ways, waking both relay threads.
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

/// The open relays, by the address tiny_http sees as their peer.
#[derive(Debug, Default)]
pub(super) struct Connections {
    relays: Mutex<HashMap<SocketAddr, Arc<Relay>>>,
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Relay>>> {
        self.relays.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the client connection behind a tiny_http peer address, without
    /// a byte more to the client. False if no relay has that address.
    pub(super) fn hang_up(&self, peer: SocketAddr) -> bool {
        let relay = self.lock().get(&peer).cloned();
        match relay {
            Some(relay) => {
                relay.close();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        for relay in self.lock().values() {
            relay.close();
        }
    }
}

/// The listener clients connect to, and its accept thread.
#[derive(Debug)]
pub(super) struct Front {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Front {
    /// Starts accepting on `listener`, relaying to tiny_http at `backend`.
    pub(super) fn start(
        listener: TcpListener,
        backend: SocketAddr,
        connections: Arc<Connections>,
    ) -> io::Result<Front> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name("fake-kore-accept".into())
                .spawn(move || accept_loop(&listener, backend, &connections, &stop))?
        };
        Ok(Front {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // A connection of our own wakes the thread blocked in `accept`.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts clients until stopped, then closes every relay and joins its
/// threads. The listener closes when this returns.
fn accept_loop(
    listener: &TcpListener,
    backend: SocketAddr,
    connections: &Arc<Connections>,
    stop: &AtomicBool,
) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            break;
        }

        match accepted.and_then(|(client, _)| start_relay(client, backend, connections)) {
            Ok(pair) => threads.extend(pair),
            // Out of descriptors or a client gone at once: go on after a
            // breath rather than spin.
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
        threads.retain(|t| !t.is_finished());
    }

    connections.close_all();
    for thread in threads {
        let _ = thread.join();
    }
}

/// Connects a client to tiny_http and starts the two relay threads.
fn start_relay(
    client: TcpStream,
    backend: SocketAddr,
    connections: &Arc<Connections>,
) -> io::Result<[JoinHandle<()>; 2]> {
    let upstream = TcpStream::connect(backend)?;
    // Small requests and answers must not wait for acknowledgements.
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let key = upstream.local_addr()?;

    let relay = Arc::new(Relay { client, upstream });
    connections.lock().insert(key, Arc::clone(&relay));

    let requests = {
        let relay = Arc::clone(&relay);
        thread::Builder::new()
            .name("fake-kore-relay".into())
            .spawn(move || relay_requests(&relay))
    };
    let answers = {
        let (relay, connections) = (Arc::clone(&relay), Arc::clone(connections));
        thread::Builder::new()
            .name("fake-kore-relay".into())
            .spawn(move || {
                relay_answers(&relay);
                connections.lock().remove(&key);
            })
    };

    match (requests, answers) {
        (Ok(requests), Ok(answers)) => Ok([requests, answers]),
        (requests, answers) => {
            relay.close();
            connections.lock().remove(&key);
            for thread in [requests, answers].into_iter().flatten() {
                let _ = thread.join();
            }
            Err(io::Error::other("could not start a relay thread"))
        }
    }
}

/// Client to tiny_http. The client's end of stream is passed on as a half
/// close, so that an answer in progress still reaches it.
fn relay_requests(relay: &Relay) {
    if copy(&relay.client, &relay.upstream).is_ok() {
        let _ = relay.upstream.shutdown(Shutdown::Write);
    } else {
        relay.close();
    }
}

/// tiny_http to client. When tiny_http ends the connection, or the fake
/// hangs up, the whole relay closes.
fn relay_answers(relay: &Relay) {
    let _ = copy(&relay.upstream, &relay.client);
    relay.close();
}

/// Copies until end of stream (`Ok`) or an error.
fn copy(mut from: &TcpStream, mut to: &TcpStream) -> io::Result<()> {
    let mut buf = [0u8; BUFFER_LEN];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
    }
}
