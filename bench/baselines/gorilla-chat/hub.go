// Baseline: gorilla/websocket's examples/chat, ported faithfully (hub.go).
//
// One hub goroutine owns the map of clients and serves three channels:
// register, unregister and broadcast. A broadcast is offered to every
// client's send channel without blocking; a client whose channel (256) is
// full is dropped: its channel is closed and writePump closes the socket.
//
// The one change for the bench: the example has a single room. Scenarios with
// several rooms (many rooms, noisy neighbour) need rooms, so the map of
// clients is keyed by room first (the room comes from ?room= in the URL) and
// a broadcast carries its room. Still one hub goroutine, same channels.
package main

type roomMessage struct {
	room string
	data []byte
}

type Hub struct {
	// Registered clients, by room.
	rooms map[string]map[*Client]bool

	// Inbound messages from the clients.
	broadcast chan roomMessage

	// Register requests from the clients.
	register chan *Client

	// Unregister requests from clients.
	unregister chan *Client
}

func newHub() *Hub {
	return &Hub{
		broadcast:  make(chan roomMessage),
		register:   make(chan *Client),
		unregister: make(chan *Client),
		rooms:      make(map[string]map[*Client]bool),
	}
}

func (h *Hub) remove(client *Client) {
	clients := h.rooms[client.room]
	if _, ok := clients[client]; ok {
		delete(clients, client)
		close(client.send)
		if len(clients) == 0 {
			delete(h.rooms, client.room)
		}
	}
}

func (h *Hub) run() {
	for {
		select {
		case client := <-h.register:
			clients := h.rooms[client.room]
			if clients == nil {
				clients = make(map[*Client]bool)
				h.rooms[client.room] = clients
			}
			clients[client] = true
		case client := <-h.unregister:
			h.remove(client)
		case message := <-h.broadcast:
			for client := range h.rooms[message.room] {
				select {
				case client.send <- message.data:
				default:
					h.remove(client)
				}
			}
		}
	}
}
