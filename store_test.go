package ginsession

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyedLocksLetOneHolderPerKeyAndKeepNoKeyAfterUse(t *testing.T) {
	var k keyedLocks
	counts := map[string]int{}
	holders := map[string]int{} // how many hold each key's lock right now
	var mu sync.Mutex           // guards the maps; the key's lock gives the turns
	var wg sync.WaitGroup
	for i := range 40 {
		key := []string{"a", "b"}[i%2]
		wg.Go(func() {
			for range 50 {
				l := k.lock(key)
				mu.Lock()
				holders[key]++
				held := holders[key]
				mu.Unlock()
				assert.Equal(t, 1, held, "two holders of key %q at once", key)
				mu.Lock()
				counts[key]++
				holders[key]--
				mu.Unlock()
				k.unlock(key, l)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, map[string]int{"a": 1000, "b": 1000}, counts)
	assert.Empty(t, k.m, "a key no one holds keeps no lock")
}

func TestKeyedLocksTakeTurnsWithoutAllocatingALockEachTime(t *testing.T) {
	var k keyedLocks
	k.unlock("warm", k.lock("warm")) // the map and a spare lock exist
	allocs := testing.AllocsPerRun(100, func() {
		k.unlock("id", k.lock("id"))
	})
	assert.Zero(t, allocs)
	assert.Empty(t, k.m)
}
