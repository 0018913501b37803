package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetedge/fleetedge/cloud/internal/livestate"
	"github.com/fleetedge/fleetedge/protocol/link"
)

// Follow keeps live up to date from link.StreamUp without storing anything: an API replica
// that runs no ingest (role api) follows the stream with an ordered, ephemeral consumer from
// since ago (long enough to cover the "lost" silence, so every recently seen vehicle is
// known), then every new batch as it arrives. Messages that do not decode are skipped (the
// ingest dead-letters them). It returns when ctx ends, or with the error that kept it from
// starting.
func Follow(ctx context.Context, js jetstream.JetStream, live *livestate.Fleet, since time.Duration, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now().Add(-since)
	cons, err := js.OrderedConsumer(ctx, link.StreamUp, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{link.SubjectsUp},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("ingest: follow %s: %w", link.StreamUp, err)
	}
	var skipped int
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if _, err := decode(m.Subject(), m.Data(), live); err != nil {
			skipped++
			if skipped == 1 || skipped%1000 == 0 {
				log.Debug("live state: message skipped", "subject", m.Subject(), "skipped", skipped, "err", err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("ingest: follow %s: %w", link.StreamUp, err)
	}
	log.Info("following the up stream for live state", "since", start.UTC().Format(time.RFC3339))
	<-ctx.Done()
	cc.Stop()
	return nil
}
