package server

// EventsConfig is the events: section: the sources legacy systems push events to.
type EventsConfig struct {
	// Sources are the event sources, by name; a source's events are read by that name.
	Sources map[string]EventSource `yaml:"sources"`
}

// EventSource is one place a legacy system posts events to.
type EventSource struct {
	// Message is the full name of the proto message an event's body decodes into.
	Message string `yaml:"message"`
}

// EventTopic is the store topic holding a source's events.
func EventTopic(source string) string { return "events/" + source }
