// The hub: one goroutine owns every room, so no lock guards them. Peers talk
// to it through three unbuffered channels; a broadcast never waits on a slow
// peer: a peer whose send buffer is full is evicted on the spot.
package main

// post is one message for one room.
type post struct {
	room string
	body []byte
}

type hub struct {
	joins     chan *peer
	leaves    chan *peer
	broadcast chan post
	rooms     map[string]map[*peer]struct{} // touched by run() only
}

func newHub() *hub {
	return &hub{
		joins:     make(chan *peer),
		leaves:    make(chan *peer),
		broadcast: make(chan post),
		rooms:     make(map[string]map[*peer]struct{}),
	}
}

func (h *hub) run() {
	for {
		select {
		case p := <-h.joins:
			members, ok := h.rooms[p.room]
			if !ok {
				members = make(map[*peer]struct{})
				h.rooms[p.room] = members
			}
			members[p] = struct{}{}
		case p := <-h.leaves:
			h.evict(p)
		case m := <-h.broadcast:
			for p := range h.rooms[m.room] {
				select {
				case p.outbox <- m.body:
				default:
					// Full buffer: the peer is not keeping up. Closing its outbox
					// tells its writer to send a close frame and stop.
					h.evict(p)
				}
			}
		}
	}
}

// evict removes a peer and closes its outbox, once: a peer evicted for being
// slow later sends its own leave, which finds it gone.
func (h *hub) evict(p *peer) {
	members := h.rooms[p.room]
	if _, ok := members[p]; !ok {
		return
	}
	delete(members, p)
	close(p.outbox)
	if len(members) == 0 {
		delete(h.rooms, p.room)
	}
}
