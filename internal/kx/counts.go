package kx

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/store"
)

// ClusterCounts counts every cluster of the store by status, and their
// nodes by whether they are up, across environments and processes (for
// the server's metrics, read at each scrape).
func (s *Service) ClusterCounts(ctx context.Context) (clusters map[ClusterStatus]int, nodesUp, nodesDown int, err error) {
	clusters = map[ClusterStatus]int{}
	err = s.db.View(ctx, func(tx store.Tx) error {
		all, err := s.clusters.List(ctx, tx, store.Query{AnyParent: true})
		if err != nil {
			return err
		}
		for _, c := range all {
			clusters[c.Status]++
			for _, n := range c.Nodes {
				if n.Up {
					nodesUp++
				} else {
					nodesDown++
				}
			}
		}
		return nil
	})
	return clusters, nodesUp, nodesDown, err
}
