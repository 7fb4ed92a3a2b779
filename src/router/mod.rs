//! The encoder router core.
