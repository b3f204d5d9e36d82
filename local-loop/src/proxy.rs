//! A TCP proxy that can be switched off: an outage of whatever is behind it.
//!
//! The soak test points the function's SQS endpoint (`AWS_ENDPOINT_URL_SQS`) at one, in front of
//! moto, to take the results queue away for a while without losing the results already in it
//! (deleting and re-creating the queue would drop them, and race with the reader).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{err, LoopError};

/// A running proxy on 127.0.0.1; it stops when dropped.
pub struct OutageProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    down: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

struct Shared {
    target: Mutex<Option<SocketAddr>>,
    /// Connections refused (closed at once) or cut while down.
    cut: AtomicU64,
}

impl Drop for OutageProxy {
    fn drop(&mut self) {
        self.accept.abort();
        // Ends every open connection too.
        self.down.send_replace(true);
    }
}

impl OutageProxy {
    /// Listens on a free loopback port. Until [`OutageProxy::set_target`] is called every
    /// connection is closed at once, as while down.
    pub async fn start() -> Result<OutageProxy, LoopError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| err(format!("proxy: cannot listen: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err(format!("proxy: no address: {e}")))?;
        let shared = Arc::new(Shared {
            target: Mutex::new(None),
            cut: AtomicU64::new(0),
        });
        let (down, _) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), down.clone()));
        Ok(OutageProxy {
            addr,
            shared,
            down,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT`, for an endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where connections go while up.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
    }

    /// Down: open connections are cut and new ones closed at once. Up: connections pass again.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Connections refused or cut while down, so far.
    pub fn cut_connections(&self) -> u64 {
        self.shared.cut.load(Ordering::Relaxed)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, down: watch::Sender<bool>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let mut down_rx = down.subscribe();
        let target = *shared.target.lock().unwrap_or_else(|p| p.into_inner());
        let Some(target) = target.filter(|_| !*down_rx.borrow_and_update()) else {
            shared.cut.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(mut upstream) = TcpStream::connect(target).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                _ = down_rx.wait_for(|d| *d) => {
                    shared.cut.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}
