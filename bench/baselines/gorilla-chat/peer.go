// A peer: one WebSocket connection, served by two goroutines. The reader
// owns every read (and so the pong handler); the writer owns every write (and
// so the pings). They meet only through the hub: the reader broadcasts what
// it reads, the hub queues it on each member's outbox, the writer drains it.
package main

import (
	"bytes"
	"log"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

const (
	outboxSize    = 256                  // messages queued per peer before it is evicted
	maxFrameBytes = 4096                 // larger client frames end the connection
	writeTimeout  = 10 * time.Second     // one write (a frame, a ping, the close) may take this long
	pongTimeout   = 60 * time.Second     // a peer that sends nothing, pongs included, for this long is dropped
	pingEvery     = pongTimeout * 9 / 10 // ping early enough that the pong arrives before the read deadline
)

var (
	separator = []byte{'\n'}
	blank     = []byte{' '}
	upgrader  = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
)

type peer struct {
	h      *hub
	room   string
	ws     *websocket.Conn
	outbox chan []byte // closed by the hub when the peer is evicted
}

func acceptPeer(h *hub, w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		log.Println("upgrade:", err)
		return
	}
	p := &peer{h: h, room: r.URL.Query().Get("room"), ws: ws, outbox: make(chan []byte, outboxSize)}
	h.joins <- p
	go p.write()
	go p.read()
}

// read forwards every frame to the hub until the connection fails, then
// leaves the room and closes the socket (which ends the writer's next write).
func (p *peer) read() {
	defer func() {
		p.h.leaves <- p
		p.ws.Close()
	}()
	p.ws.SetReadLimit(maxFrameBytes)
	extend := func() error { return p.ws.SetReadDeadline(time.Now().Add(pongTimeout)) }
	_ = extend()
	p.ws.SetPongHandler(func(string) error { return extend() })
	for {
		_, body, err := p.ws.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseAbnormalClosure) {
				log.Println("read:", err)
			}
			return
		}
		// A newline separates messages in an outgoing frame: none may carry one.
		p.h.broadcast <- post{room: p.room, body: bytes.ReplaceAll(body, separator, blank)}
	}
}

// write sends queued messages, as many as are waiting in one frame, and a
// ping every pingEvery. It stops on the first failed write or when the hub
// closes the outbox.
func (p *peer) write() {
	ticker := time.NewTicker(pingEvery)
	defer func() {
		ticker.Stop()
		p.ws.Close()
	}()
	for {
		select {
		case body, open := <-p.outbox:
			_ = p.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if !open {
				_ = p.ws.WriteMessage(websocket.CloseMessage, nil)
				return
			}
			if p.writeBatch(body) != nil {
				return
			}
		case <-ticker.C:
			_ = p.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if p.ws.WriteMessage(websocket.PingMessage, nil) != nil {
				return
			}
		}
	}
}

// writeBatch writes first and everything queued behind it as one text frame.
func (p *peer) writeBatch(first []byte) error {
	frame, err := p.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	_, _ = frame.Write(first)
	for queued := len(p.outbox); queued > 0; queued-- {
		_, _ = frame.Write(separator)
		_, _ = frame.Write(<-p.outbox)
	}
	return frame.Close()
}
