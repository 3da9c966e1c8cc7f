//! Redis for the cache tests: the shared server CI provides
//! (`TEST_REDIS_URL`), and private `redis-server` processes a test may kill,
//! pause and restart without disturbing the others.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The shared Redis, when `TEST_REDIS_URL` is set (CI always sets it).
pub fn shared_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("TEST_REDIS_URL unset: Redis variant not run");
            None
        }
    }
}

/// A `redis-server` process owned by one test; killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    /// Starts a private server on a free port (`REDIS_SERVER_BIN`, else
    /// `redis-server` on the PATH) and waits until it answers.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = spawn(port);
        let server = Self { port, child };
        server.wait_until_answering().await;
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the server is gone, with its data.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill redis-server");
        self.child.wait().expect("reap redis-server");
    }

    /// Starts an empty server again on the same port.
    pub async fn restart(&mut self) {
        self.child = spawn(self.port);
        self.wait_until_answering().await;
    }

    /// SIGSTOP: the server keeps its connections and data but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT: the server answers again, with the data it had.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    async fn wait_until_answering(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server on port {} never answered", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(port: u16) -> Child {
    let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
    Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (set REDIS_SERVER_BIN): {e}"))
}

async fn ping(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut answer).await.is_ok()
        && &answer == b"+PONG\r\n"
}

/// Keys of the free-time cache held for `employee` in the Redis at `url`.
pub async fn cached_keys(url: &str, employee: uuid::Uuid) -> Vec<String> {
    let client = redis::Client::open(url).expect("Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("tandem:free:*:{employee}:*"))
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    keys.sort();
    keys
}
