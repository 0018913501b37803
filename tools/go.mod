module github.com/fleetedge/fleetedge/tools

go 1.26.0

require (
	github.com/fleetedge/fleetedge/protocol v0.0.0
	github.com/fleetedge/fleetedge/shared v0.0.0
)

require (
	github.com/eclipse/paho.mqtt.golang v1.5.1 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/mochi-mqtt/server/v2 v2.7.9 // indirect
	github.com/paulmach/orb v0.14.0 // indirect
	github.com/rs/xid v1.4.0 // indirect
	golang.org/x/net v0.44.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/fleetedge/fleetedge/protocol => ../protocol

replace github.com/fleetedge/fleetedge/shared => ../shared
