package volumes

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// tokenCache keeps each pod's service-account tokens until 80% of their life has
// passed (or 24 h), as kubelet's token manager does, so the once-a-minute volume
// refresh does not ask the apiserver for a new token every time.
type tokenCache struct {
	mu     sync.Mutex
	tokens map[tokenKey]cachedToken
}

type tokenKey struct {
	pod              types.UID
	audience, path   string
	expirationSecond int64
}

type cachedToken struct {
	token     string
	refreshAt time.Time
}

// get returns a cached token of the pod for src, or fetches one with fetch.
func (c *tokenCache) get(ctx context.Context, clk clock.PassiveClock, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection,
	fetch func(context.Context) (string, time.Time, error)) (string, error) {
	key := tokenKey{pod: pod.UID, audience: src.Audience, path: src.Path}
	if src.ExpirationSeconds != nil {
		key.expirationSecond = *src.ExpirationSeconds
	}
	c.mu.Lock()
	t, ok := c.tokens[key]
	c.mu.Unlock()
	if ok && clk.Now().Before(t.refreshAt) {
		return t.token, nil
	}
	issued := clk.Now()
	token, expires, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	life := expires.Sub(issued)
	refresh := issued.Add(min(life*8/10, 24*time.Hour))
	c.mu.Lock()
	if c.tokens == nil {
		c.tokens = map[tokenKey]cachedToken{}
	}
	c.tokens[key] = cachedToken{token: token, refreshAt: refresh}
	c.mu.Unlock()
	return token, nil
}

// forget drops a pod's tokens.
func (c *tokenCache) forget(pod types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.tokens {
		if k.pod == pod {
			delete(c.tokens, k)
		}
	}
}
