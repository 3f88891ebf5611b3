//! A circuit breaker against a failing network, on PostgreSQL and MySQL/MariaDB: a TCP proxy on
//! loopback in front of the database refuses new connections and cuts the ones it carries,
//! driving the breaker through open (refused without touching the network), half-open, open
//! again, and closed.
#![cfg(feature = "testing")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use kysera::infra::{BreakerOptions, BreakerState, CircuitBreaker};
use kysera::{Dialect, Error, Executor, Pool};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy on loopback in front of the database that can refuse new connections and cut
/// the ones it carries.
struct Proxy {
    addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    accepted: Arc<AtomicU32>,
    /// Bumped to cut every connection carried so far.
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU32::new(0));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (r, a, c) = (refusing.clone(), accepted.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                if r.load(Ordering::SeqCst) {
                    drop(client); // accepted and closed at once: the handshake fails
                    continue;
                }
                let mut cut = c.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {} // both sockets dropped: the connection is cut
                    }
                });
            }
        });
        Proxy {
            addr,
            refusing,
            accepted,
            cut,
        }
    }

    fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    fn cut_all(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// An executor that reaches `db`'s database through `proxy`, with a short acquire timeout.
fn through(db: &Executor, proxy: &Proxy) -> Executor {
    let (host, port) = (proxy.addr.ip().to_string(), proxy.addr.port());
    match db.pool() {
        Pool::Postgres(p) => Executor::new(
            kysera::sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with((*p.connect_options()).clone().host(&host).port(port)),
        ),
        Pool::MySql(p) => Executor::new(
            kysera::sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with((*p.connect_options()).clone().host(&host).port(port)),
        ),
        other => panic!("no proxy for {}", other.dialect()),
    }
}

#[kysera::test(databases = "all")]
async fn a_breaker_opens_half_opens_and_closes_against_a_failing_network(db: Executor) {
    let d = db.dialect();
    let upstream: SocketAddr = match d {
        Dialect::Postgres => "127.0.0.1:5432",
        Dialect::MySql => "127.0.0.1:3306",
        _ => return, // no network to fail
    }
    .parse()
    .unwrap();
    let proxy = Proxy::start(upstream).await;
    // Long enough that a loaded machine does not pass it between two steps that must fall
    // inside it.
    let cool_down = Duration::from_secs(2);
    let breaker = CircuitBreaker::new(
        "through-proxy",
        BreakerOptions::default()
            .failure_threshold(3)
            .cool_down(cool_down),
    );
    let db = through(&db, &proxy).with_circuit_breaker(breaker.clone());
    let select = || async { db.raw().fetch_all_sql("SELECT 1 AS one", vec![]).await };

    select().await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed, "{d}");

    // The network fails: carried connections cut, new ones closed at once.
    proxy.refuse(true);
    proxy.cut_all();
    for _ in 0..3 {
        let e = select().await.unwrap_err();
        assert!(e.is_unavailable(), "{d}: {e:?}");
    }
    assert_eq!(breaker.state(), BreakerState::Open, "{d}");
    // Open: refused without touching the network, statements and transactions alike.
    let knocked = proxy.accepted.load(Ordering::SeqCst);
    let e = select().await.unwrap_err();
    assert!(matches!(e, Error::CircuitOpen { .. }), "{d}: {e:?}");
    let e = db
        .transaction(|_| async { Ok(()) })
        .await
        .expect_err("refused");
    assert!(matches!(e, Error::CircuitOpen { .. }), "{d}: {e:?}");
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), knocked, "{d}");

    // After the cool-down one trial goes through; the network still fails: open again.
    tokio::time::sleep(cool_down + Duration::from_millis(50)).await;
    assert_eq!(breaker.state(), BreakerState::HalfOpen, "{d}");
    assert!(select().await.unwrap_err().is_unavailable(), "{d}");
    assert_eq!(breaker.state(), BreakerState::Open, "{d}");
    assert!(proxy.accepted.load(Ordering::SeqCst) > knocked, "{d}");

    // The network is back: after the cool-down the trial succeeds and the breaker closes.
    proxy.refuse(false);
    tokio::time::sleep(cool_down + Duration::from_millis(50)).await;
    select().await.unwrap_or_else(|e| panic!("{d}: {e:?}"));
    assert_eq!(breaker.state(), BreakerState::Closed, "{d}");
    for _ in 0..3 {
        select().await.unwrap();
    }
    // The database answering with an error is not a failure of the network.
    for _ in 0..5 {
        let e = db
            .raw()
            .fetch_all_sql("SELECT * FROM k_no_such_table", vec![])
            .await
            .unwrap_err();
        assert!(!e.is_unavailable(), "{d}: {e:?}");
    }
    assert_eq!(breaker.state(), BreakerState::Closed, "{d}");
}
