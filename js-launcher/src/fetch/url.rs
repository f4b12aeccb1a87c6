//! Natives behind the JS `URL` and `URLSearchParams` classes (`fetch.js`), on the `url`
//! crate (WHATWG URL parsing, its `quirks` setters, and `form_urlencoded`), and the UTF-8
//! decoding of response bodies.
//!
//! A URL crosses to JS as an array of its components, in [`COMPONENTS`] order.

use boa_engine::object::builtins::{JsArray, JsArrayBuffer};
use boa_engine::{js_string, Context, JsArgs, JsNativeError, JsResult, JsString, JsValue};
use url::{quirks, Url};

/// The order of the components array handed to JS.
pub const COMPONENTS: [&str; 11] =
    ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];

fn components(url: &Url, ctx: &mut Context) -> JsValue {
    let parts = [
        quirks::href(url).to_owned(),
        quirks::origin(url),
        quirks::protocol(url).to_owned(),
        quirks::username(url).to_owned(),
        quirks::password(url).to_owned(),
        quirks::host(url).to_owned(),
        quirks::hostname(url).to_owned(),
        quirks::port(url).to_owned(),
        quirks::pathname(url).to_owned(),
        quirks::search(url).to_owned(),
        quirks::hash(url).to_owned(),
    ];
    JsArray::from_iter(parts.into_iter().map(|p| JsValue::from(JsString::from(p.as_str()))), ctx).into()
}

/// A JS string argument as a Rust string (lone surrogates become U+FFFD, as USVString
/// conversion does).
pub fn string_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<String> {
    Ok(args.get_or_undefined(i).to_string(ctx)?.to_std_string_lossy())
}

/// `parse(input, base?)`: the components of the parsed URL, or `null` when it does not parse.
pub fn parse(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let input = string_arg(args, 0, ctx)?;
    let parsed = if args.get_or_undefined(1).is_undefined() {
        Url::parse(&input)
    } else {
        let base = string_arg(args, 1, ctx)?;
        match Url::parse(&base) {
            Ok(base) => Url::options().base_url(Some(&base)).parse(&input),
            Err(e) => Err(e),
        }
    };
    Ok(match parsed {
        Ok(url) => components(&url, ctx),
        Err(_) => JsValue::null(),
    })
}

/// `set(href, component, value)`: the components after the URL standard's setter for
/// `component` (invalid values leave the URL unchanged, as in browsers; an invalid `href`
/// gives `null`).
pub fn set(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let href = string_arg(args, 0, ctx)?;
    let which = string_arg(args, 1, ctx)?;
    let value = string_arg(args, 2, ctx)?;
    let Ok(mut url) = Url::parse(&href) else { return Ok(JsValue::null()) };
    let ok = match which.as_str() {
        "href" => match Url::parse(&value) {
            Ok(u) => {
                url = u;
                true
            }
            Err(_) => false,
        },
        "protocol" => quirks::set_protocol(&mut url, &value).is_ok(),
        "username" => quirks::set_username(&mut url, &value).is_ok(),
        "password" => quirks::set_password(&mut url, &value).is_ok(),
        "host" => quirks::set_host(&mut url, &value).is_ok(),
        "hostname" => quirks::set_hostname(&mut url, &value).is_ok(),
        "port" => quirks::set_port(&mut url, &value).is_ok(),
        "pathname" => {
            quirks::set_pathname(&mut url, &value);
            true
        }
        "search" => {
            quirks::set_search(&mut url, &value);
            true
        }
        "hash" => {
            quirks::set_hash(&mut url, &value);
            true
        }
        other => return Err(JsNativeError::typ().with_message(format!("unknown URL component {other}")).into()),
    };
    if !ok && which == "href" {
        return Ok(JsValue::null());
    }
    Ok(components(&url, ctx))
}

/// `formParse(text)`: the name/value pairs of an `application/x-www-form-urlencoded` string,
/// as a flat array `[name0, value0, name1, value1, ...]`.
pub fn form_parse(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let text = string_arg(args, 0, ctx)?;
    let mut flat = Vec::new();
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        flat.push(JsValue::from(JsString::from(k.as_ref())));
        flat.push(JsValue::from(JsString::from(v.as_ref())));
    }
    Ok(JsArray::from_iter(flat, ctx).into())
}

/// `formSerialize(flat)`: the `application/x-www-form-urlencoded` serialisation of a flat
/// `[name0, value0, ...]` array.
pub fn form_serialize(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let Some(obj) = args.get_or_undefined(0).as_object() else {
        return Err(JsNativeError::typ().with_message("formSerialize expects an array").into());
    };
    let arr = JsArray::from_object(obj.clone())?;
    let len = arr.length(ctx)?;
    let mut ser = form_urlencoded::Serializer::new(String::new());
    let mut i = 0;
    while i + 1 < len {
        let k = arr.get(i, ctx)?.to_string(ctx)?.to_std_string_lossy();
        let v = arr.get(i + 1, ctx)?.to_string(ctx)?.to_std_string_lossy();
        ser.append_pair(&k, &v);
        i += 2;
    }
    Ok(JsValue::from(JsString::from(ser.finish().as_str())))
}

/// `utf8Decode(arrayBuffer)`: the bytes as text, as fetch's `text()` does it (UTF-8 with
/// replacement characters for invalid sequences, a leading byte order mark dropped).
pub fn utf8_decode(_: &JsValue, args: &[JsValue], _ctx: &mut Context) -> JsResult<JsValue> {
    let Some(obj) = args.get_or_undefined(0).as_object() else {
        return Err(JsNativeError::typ().with_message("utf8Decode expects an ArrayBuffer").into());
    };
    let buf = JsArrayBuffer::from_object(obj.clone())?;
    let Some(data) = buf.data() else { return Ok(JsValue::from(js_string!(""))) };
    let bytes: &[u8] = &data;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(JsValue::from(JsString::from(String::from_utf8_lossy(bytes).as_ref())))
}
