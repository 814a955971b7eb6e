"""The lab runtime: builds topologies on Mininet + Open vSwitch and supervises them."""
