// Baseline: gorilla/websocket's examples/chat, ported faithfully (main.go).
// Built by the bench against Debian's golang-github-gorilla-websocket-dev in
// GOPATH mode (no network). Two additions for the bench: it listens on the
// port given (0: any) and prints "LISTENING <port>"; /debug/mem reports the
// Go heap and goroutine stacks after a GC, as the Node servers report theirs.
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

var addr = flag.String("addr", "127.0.0.1:0", "http service address")

func serveMem(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]uint64{
		"heapAlloc":  m.HeapAlloc,
		"stackInuse": m.StackInuse,
		"sys":        m.Sys,
		"goroutines": uint64(runtime.NumGoroutine()),
	})
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	hub := newHub()
	go hub.run()
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		serveWs(hub, w, r)
	})
	http.HandleFunc("/debug/mem", serveMem)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal("ListenAndServe: ", err)
	}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(ln, nil))
}
