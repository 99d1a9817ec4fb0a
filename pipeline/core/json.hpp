#pragma once

// The one place that includes RapidJSON, with the project's settings.
#define RAPIDJSON_HAS_STDSTRING 1
// RapidJSON's SIMD scans of whitespace and string bodies, for what the
// compiler targets (SSE2 is part of every x86-64). Not in the AddressSanitizer
// build: by design they read whole aligned 16-byte blocks, up to 15 bytes past
// the end of the text (never across a page, so harmless, but ASan reports it
// in RapidJSON's SkipWhitespace_SIMD); that build tests the plain scans.
#if defined(__SANITIZE_ADDRESS__)
#elif defined(__SSE4_2__)
#  define RAPIDJSON_SSE42 1
#elif defined(__SSE2__)
#  define RAPIDJSON_SSE2 1
#endif
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
