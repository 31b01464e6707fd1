//! A deliberately broken origin for reproducing every cause.
