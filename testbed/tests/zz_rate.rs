#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate() {
    use tokio::io::{AsyncWriteExt, AsyncReadExt};
    let t = upwatch_testbed::HttpTarget::start().await.unwrap();
    let addr = t.addr;
    let start = std::time::Instant::now();
    let mut handles = Vec::new();
    for _ in 0..16 {
        handles.push(tokio::spawn(async move {
            for _ in 0..500 {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
                let mut v = Vec::new();
                s.read_to_end(&mut v).await.unwrap();
                assert!(v.starts_with(b"HTTP/1.1 200"));
            }
        }));
    }
    for h in handles { h.await.unwrap(); }
    eprintln!("8000 conns in {:?}", start.elapsed());
}
