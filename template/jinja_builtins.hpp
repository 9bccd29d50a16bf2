#pragma once
// What templates can call: filters, tests, global functions, and the attributes and methods of
// values (Python's str / dict / list methods that are safe in jinja2's ImmutableSandboxedEnvironment;
// modifying methods such as list.append are "unsafe" undefined values, as in the sandbox).
#include <stdexcept>
#include <string>
#include <vector>

#include "template/jinja_value.hpp"

namespace kvactor::jinja {

/// A failure inside a builtin; the evaluator turns it into a template_error with the line.
struct builtin_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The message jinja2 gives when an undefined value is used ("'x' is undefined").
std::string undefined_message(const value& v);

/// jinja2's getattr: the attribute (a method of str / dict / list, a namespace attribute), else the
/// item of that name, else undefined. Throws builtin_error on an undefined object.
value get_attribute(const value& object, const std::string& name);
/// jinja2's getitem: the item, else (for string keys) the attribute, else undefined.
value get_item(const value& object, const value& key);
/// Python slicing of lists, tuples and strings; null bounds are omitted ones.
value get_slice(const value& object, const value* start, const value* stop, const value* step);

/// The elements a for loop visits (dict keys, string characters); throws for non-iterables.
std::vector<value> iterate(const value& v);
/// Python's `item in container`.
bool contains(const value& container, const value& item);

value apply_filter(const std::string& name, const value& input, const call_arguments& args);
bool apply_test(const std::string& name, const value& input, const call_arguments& args);

/// range, namespace, dict, raise_exception, strftime_now.
void install_globals(dict_object& globals);

/// Python's `format % args` for %s %r %d %i %f %e %g %x %o %c %% (flags, width, precision; a
/// dict argument with %(name)s); throws builtin_error as Python raises TypeError / ValueError.
std::string percent_format(const std::string& format, const value& args);

// Python str helpers shared with the evaluator.
std::string py_strip(const std::string& s, const value* chars, bool left, bool right);
/// str.splitlines() for "\n", "\r" and "\r\n" line ends (the only ones these split on): the
/// lines without their ends; a trailing line end adds no empty line.
std::vector<std::string> py_splitlines(const std::string& s);

}  // namespace kvactor::jinja
