from decimal import Decimal

import pytest

from storeflows.errors import MessageRenderError
from storeflows.messaging.rendering import RenderedMessage, RenderTooBig, render_message
from storeflows.records import MessageContent


def render(subject: str = "s", html: str = "h", text: str = "t", **context) -> RenderedMessage:
    return render_message(MessageContent(subject=subject, html=html, text=text), context)


def test_customer_markup_is_escaped_in_html_but_literal_in_text_and_subject():
    name = "<script>alert(1)</script>"
    out = render(
        subject="Hi {{ customer.first_name }}",
        html="<p>Hi {{ customer.first_name }}</p>",
        text="Hi {{ customer.first_name }}",
        customer={"first_name": name},
    )
    assert out.html == "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert out.text == f"Hi {name}"
    assert out.subject == f"Hi {name}"


def test_subject_is_one_line_even_if_customer_data_has_line_breaks():
    out = render(
        subject="Hi {{ name }},\n\tyour order",
        name="Ann\r\nBcc: x@y.z\x00",
    )
    assert out.subject == "Hi Ann Bcc: x@y.z, your order"


def test_subject_is_truncated_to_250_characters():
    assert len(render(subject="{{ 'x' * 1000 }}").subject) == 250


def test_undefined_variable_names_the_failing_part():
    with pytest.raises(MessageRenderError) as caught:
        render(html="<p>{{ customer.first_nam }}</p>", customer={"first_name": "Ann"})
    assert caught.value.detail.startswith("html:")
    assert "first_nam" in caught.value.detail


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{% set items = [] %}{{ items.append(1) }}",
    ],
)
def test_sandbox_refusal_is_a_render_error(template):
    with pytest.raises(MessageRenderError) as caught:
        render(text=template)
    assert caught.value.detail.startswith("text:")


def test_syntax_error_names_part_and_line():
    with pytest.raises(MessageRenderError) as caught:
        render(subject="Hi {{ name ")
    assert caught.value.detail.startswith("subject: line 1:")


def test_error_raised_by_an_expression_is_a_render_error():
    with pytest.raises(MessageRenderError) as caught:
        render(text="{{ 1 / 0 }}")
    assert caught.value.detail.startswith("text: line 1: ZeroDivisionError")


def test_none_renders_as_empty_not_the_word_none():
    assert render(text="Hi {{ name }}!", name=None).text == "Hi !"


def test_decimal_renders_with_its_scale():
    assert render(text="{{ total }}", total=Decimal("129.90")).text == "129.90"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("129.9"), "EUR", "129.90 EUR"),
        (Decimal("0.005"), "pln", "0.01 PLN"),
        (Decimal("1500.4"), "JPY", "1500 JPY"),
        ("19.999", "USD", "20.00 USD"),
        (0.1, "EUR", "0.10 EUR"),
        # A catalogue product from Shopify's or WooCommerce's webhooks names no currency.
        (Decimal("19.99"), "", "19.99"),
    ],
)
def test_money_filter(amount, currency, expected):
    order = {"total": amount, "currency": currency}
    assert render(text="{{ order.total|money(order.currency) }}", order=order).text == expected


def test_money_filter_on_non_number_is_a_render_error():
    with pytest.raises(MessageRenderError):
        render(text="{{ 'abc'|money('EUR') }}")


def test_loop_over_order_items():
    order = {
        "currency": "EUR",
        "items": [
            {"name": "Mug", "qty": 2, "price": Decimal("9.5")},
            {"name": "Tea & Co", "qty": 1, "price": Decimal("12")},
        ],
    }
    out = render(
        html="<ul>{% for i in order['items'] %}<li>{{ i.qty }}x {{ i.name }}</li>{% endfor %}</ul>",
        text=("{% for i in order['items'] %}{{ i.name }}: {{ i.price|money(order.currency) }}\n{% endfor %}"),
        order=order,
    )
    assert out.html == "<ul><li>2x Mug</li><li>1x Tea &amp; Co</li></ul>"
    assert out.text == "Mug: 9.50 EUR\nTea & Co: 12.00 EUR\n"


def test_same_source_renders_fresh_for_each_customer():
    content = MessageContent(subject="Hi {{ n }}", html="<b>{{ n }}</b>", text="{{ n }}")
    assert render_message(content, {"n": "Ann"}).html == "<b>Ann</b>"
    assert render_message(content, {"n": "Bob"}).html == "<b>Bob</b>"


# --- bounds: every render (preview, test send, send) stops before it runs away -----------------


@pytest.mark.parametrize(
    ("template", "refusal"),
    [
        ("{{ 'a' * 100000000 }}", "repeating a value 100000000 times"),
        ("{{ 'a' * 30000000 }}", "repeating a value 30000000 times"),
        ("{{ ['a'] * 100000000 }}", "repeating a value"),
        ("{{ 'a'|center(1000000000) }}", "filter center: the number 1000000000 is too large"),
        ("{{ 'a'.ljust(1000000000) }}", "ljust: the number 1000000000 is too large"),
        ("{{ 'a'|indent(100000000) }}", "filter indent"),
        ("{{ '%0999999999d' % 1 }}", "%-format width"),
        ("{{ '%*d' % (999999999, 1) }}", "%-format width"),
        ("{{ '{:>999999999}'.format('a') }}", "format field width"),
        ("{{ '%999999999s'|format('a') }}", "filter format"),
        ("{{ 10 ** 100000 }}", "exponent of 100000"),
        ("{% for i in range(100000) %}{{ 'twenty characters!!' }}{% endfor %}", "more than 1000000 characters"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "steps to render"),
    ],
)
def test_a_template_that_would_run_away_is_stopped_with_the_reason(template, refusal):
    with pytest.raises(RenderTooBig, match=refusal.replace("(", r"\(").replace("*", r"\*")) as refused:
        render(html=template)
    assert refused.value.detail.startswith("html: ")


def test_bounds_leave_real_messages_alone():
    items = [{"name": f"Item {n}", "quantity": 1, "price": Decimal("9.99")} for n in range(200)]
    html = (
        "<p>Hi {{ contact.first_name }}, order {{ '%s' % order.id }} (call 0800123456)</p>"
        "{% for item in order['items'] %}<li>{{ item.quantity }} × {{ item.name|center(40) }} "
        "{{ item.price|money('EUR') }}</li>{% endfor %}{{ '-' * 60 }}{{ '{:>10}'.format('x') }}"
    )
    rendered = render(html=html, contact={"first_name": "Ana"}, order={"id": "1001", "items": items})
    assert rendered.html.count("<li>") == 200 and "order 1001" in rendered.html


def test_rendering_does_not_leave_its_step_counter_behind():
    import sys

    before = sys.gettrace()
    render(html="{% for i in range(10) %}{{ i }}{% endfor %}")
    assert sys.gettrace() is before
