//! A one-thread HTTP test server on 127.0.0.1 with shared state, stopped on drop. The mock Hubs
//! (`mock_hub.rs` here, and the upload mock in the workspace's `tests/push.rs`) build on it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Answers one connection: the stream, the server's own address, the shared state.
pub type Handler<S> = fn(TcpStream, SocketAddr, &Mutex<S>) -> std::io::Result<()>;

/// A running server; connections are answered one at a time by its handler.
pub struct Server<S> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The state the handler reads and writes, shared with the test.
    pub state: Arc<Mutex<S>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Default + Send + 'static> Server<S> {
    /// Binds a free port on 127.0.0.1 and serves `handler` from a thread.
    pub fn start(handler: Handler<S>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(S::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = handler(stream, addr, &shared);
                }
            }
        });
        Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }
}

impl<S> Server<S> {
    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl<S> Drop for Server<S> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
