// Go baseline for the benchmark: a chat hub written to the design of the
// classic Go WebSocket chat (gorilla/websocket's chat example), so Hubbub is
// measured against what a Go programmer would write first:
//
//   - one hub goroutine owns the rooms and serves three channels: join,
//     leave and broadcast (hub.go);
//   - every connection has two goroutines, one reading and one writing, and
//     a send buffer of 256 messages; a connection whose buffer is full when a
//     broadcast comes is dropped (peer.go);
//   - the writer packs whatever is queued into one frame, messages separated
//     by newlines; pings every 54 s, a peer silent for 60 s is dropped, writes
//     time out after 10 s, frames over 4 KiB are refused.
//
// This code is Hubbub's own, written from that design (no code of the example
// is used). The one change to the design: rooms. The bench's scenarios use
// several rooms, so a client names its room in the URL (/ws?room=R) and a
// broadcast reaches that room only; still one hub goroutine.
//
// Built by bench/systems.ts against Debian's golang-github-gorilla-websocket-dev
// in GOPATH mode (no network). It listens on -addr (port 0: any), prints
// "LISTENING <port>" once ready, and /debug/mem reports the Go heap and
// goroutine stacks after a GC, as the Node servers report theirs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"runtime"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	flag.Parse()
	log.SetFlags(0)

	h := newHub()
	go h.run()

	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { acceptPeer(h, w, r) })
	mux.HandleFunc("/debug/mem", reportMemory)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listen %s: %v", *addr, err)
	}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, mux))
}

// reportMemory answers the bench's memory probe: what is live after a full GC.
func reportMemory(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]uint64{
		"heapAlloc":  stats.HeapAlloc,
		"stackInuse": stats.StackInuse,
		"sys":        stats.Sys,
		"goroutines": uint64(runtime.NumGoroutine()),
	})
}
