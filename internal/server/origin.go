package server

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// checkOrigin refuses (403) a request whose Host is neither the bound
// address nor an allowed host, and one whose Origin is neither the
// server's own nor an allowed origin: a page of another site, even one
// whose name was rebound to this address, cannot call the server. An
// allowed origin gets CORS headers, and its preflight is answered here.
func (s *server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.fail(w, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "host " + quoteHost(r.Host) + " is not served here",
				hint: "rag serve answers requests to the address it is bound to; --allow-host adds a name"})
			return
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		listed := slices.Contains(s.cfg.AllowOrigins, origin) || slices.Contains(s.cfg.AllowOrigins, "*")
		if !listed && !sameOrigin(origin, r.Host) {
			s.fail(w, &httpError{status: http.StatusForbidden, code: "forbidden", msg: "origin " + quoteHost(origin) + " may not call this server",
				hint: "--allow-origin lets the pages of an origin call it"})
			return
		}
		if listed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.Set("Access-Control-Expose-Headers", "Retry-After, Mcp-Session-Id")
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin is the page of this server as host
// names it (host was checked).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.User != nil {
		return false
	}
	return strings.EqualFold(withPort(u.Host, u.Scheme), withPort(host, u.Scheme))
}

// hostAllowed reports whether a request's Host names this server: its
// bound address, the loopback forms of it when bound to loopback or to
// every address, an IP address of the port when bound to every address
// (no DNS name can rebind to a literal), or an allowed host.
func (s *server) hostAllowed(host string) bool {
	if host == "" {
		return false
	}
	h, port, err := net.SplitHostPort(withPort(host, "http"))
	if err != nil {
		return false
	}
	h = strings.ToLower(strings.Trim(h, "[]"))
	for _, a := range s.cfg.AllowHosts {
		a = strings.ToLower(a)
		if ah, ap, err := net.SplitHostPort(a); err == nil {
			if strings.Trim(ah, "[]") == h && ap == port {
				return true
			}
		} else if strings.Trim(a, "[]") == h {
			return true
		}
	}
	bh, bport, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil || bport != port {
		return false
	}
	bh = strings.ToLower(bh)
	if bh == h {
		return true
	}
	bip := net.ParseIP(bh)
	everywhere := bh == "" || (bip != nil && bip.IsUnspecified())
	if everywhere && net.ParseIP(h) != nil {
		return true
	}
	return (everywhere || bh == "localhost" || (bip != nil && bip.IsLoopback())) && isLoopbackName(h)
}

func isLoopbackName(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// withPort is host with the scheme's port when it names none.
func withPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// quoteHost is a Host or Origin as an error message shows it: quoted,
// cut short.
func quoteHost(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// remoteHost is the host of r's remote address.
func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}
