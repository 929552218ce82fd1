//! The water city that `ting demo` plays (DESIGN.md §1): households with
//! water purifiers across districts, competing service centres, the water
//! utility and relay gateways.
//!
//! [`world`] is the pure, seeded model of the physical city: districts and
//! their water hardness, households and their owners' policies, purifiers'
//! demand and cartridges, service centres' behaviour. Every value is a
//! function of the seed, the entity and the simulated time, never of the
//! order in which agents ask, so the same seed gives the same scenario
//! however the real processes interleave. [`report`] renders a run's
//! figures as Markdown and SVG. [`city`] is the I/O shell: the city's
//! actors as real `ting-agent` devices over MQTT (purifiers buying
//! cartridges, service centres selling them, owners registering and
//! freezing their purifiers), and the physical world they share.

pub mod city;
pub mod report;
pub mod world;
