#pragma once

#include <caf/atom.hpp>

/// Atoms of the cotflow vocabulary (CAF 0.17: at most 10 characters).
namespace cotflow::atom {

/// Self-message that drives a polling loop (Kafka consume, producer poll).
using poll = caf::atom_constant<caf::atom("poll")>;
/// Asks the batcher to flush: with a generation from its age timer, or
/// without to flush at once (shutdown).
using flush = caf::atom_constant<caf::atom("flush")>;
/// Starts the source with its downstream handle.
using start = caf::atom_constant<caf::atom("start")>;
/// An encoder worker finished a batch (slot, id).
using done = caf::atom_constant<caf::atom("done")>;
/// Time to restart a failed worker (slot).
using restart = caf::atom_constant<caf::atom("restart")>;
/// Stops the source and drains in-flight work; replies when drained.
using stop = caf::atom_constant<caf::atom("stop")>;

} // namespace cotflow::atom
