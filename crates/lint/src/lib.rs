//! nginx and PHP-FPM configuration linter.
