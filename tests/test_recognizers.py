"""Each recognizer on valid values, failed checksums and look-alikes, with exact offsets."""

from __future__ import annotations

import pytest

from piifactory.rules.checksums import id_card_check_char, luhn_check_digit, uscc_check_char
from piifactory.rules.recognizers import (
    BankCardRecognizer,
    EmailRecognizer,
    IdCardRecognizer,
    IpRecognizer,
    LandlineRecognizer,
    LicensePlateRecognizer,
    MobileRecognizer,
    PassportRecognizer,
    UsccRecognizer,
    analyze,
    fold_width,
)

ID17 = "11010519491231002"
ID = ID17 + id_card_check_char(ID17)  # 11010519491231002X
BAD_ID = ID17 + ("1" if ID[-1] != "1" else "2")
CARD15 = "622202100112345"
CARD = CARD15 + luhn_check_digit(CARD15)
BAD_CARD = CARD15 + str((int(luhn_check_digit(CARD15)) + 1) % 10)
USCC17 = "91350100M000100Y4"
USCC = USCC17 + uscc_check_char(USCC17)
BAD_USCC = USCC17 + ("0" if USCC[-1] != "0" else "1")
CARD19 = "622202100112345678" + luhn_check_digit("622202100112345678")
ORDER = "202401011234567" + luhn_check_digit("202401011234567")  # Luhn-valid, yet an order number
FULL = str.maketrans("0123456789-+ ", "０１２３４５６７８９－＋\u3000")


def values(text: str, entity_type: str | None = None) -> list[str]:
    """Values found by the default registry; each must be the exact slice of its offsets."""
    hits = analyze(text)
    for hit in hits:
        assert text[hit.start : hit.end] == hit.value
        assert hit.source == "rules" and 0.5 <= hit.score <= 1.0
    return [h.value for h in hits if entity_type is None or h.type == entity_type]


def test_fold_width_keeps_length_and_maps_full_width_forms():
    text = "电话：１３８－１２３４\u30005678，ＩＤ"
    folded = fold_width(text)
    assert len(folded) == len(text)
    assert folded == "电话：138-1234 5678,ID"  # the full-width colon stays


@pytest.mark.parametrize(
    "text, expected",
    [
        ("手机号13812345678，请回电", "13812345678"),
        ("联系方式+86 13912345678。", "+86 13912345678"),
        ("电话+8613912345678", "+8613912345678"),
        ("拨打0086-139-1234-5678即可", "0086-139-1234-5678"),
        ("客户139 1234 5678已确认", "139 1234 5678"),
        ("号码１３８－１２３４－５６７８。", "１３８－１２３４－５６７８"),
        ("张三15012345678李四", "15012345678"),
        ("手机86-13812345678", "86-13812345678"),  # the country code without its plus
        ("手机：86 138 1234 5678", "86 138 1234 5678"),
    ],
)
def test_mobile_valid(text, expected):
    assert values(text, "PHONE") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "号码12812345678无效",  # second digit must be 3-9
        "订单号138123456789已发货",  # 12 digits: part of a longer number
        "流水号DD13812345678",  # glued to letters: an order code
        "卡号6222 13812345678 9",  # inside a grouped number
        "金额13812345.67元",
        "编号8613812345678",  # a bare 86 needs a separator after it to read as a country code
    ],
)
def test_mobile_look_alikes(text):
    assert values(text, "PHONE") == []


def test_mobile_recognizer_validate_strips_country_code():
    recognizer = MobileRecognizer()
    assert recognizer.validate("+86 13812345678") and recognizer.validate("0086-138-1234-5678")
    assert not recognizer.validate("1381234567")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("办公电话010-88886666", "010-88886666"),
        ("座机0370-2345678，找王经理", "0370-2345678"),  # Shangqiu's numbers have 7 digits
        ("总机（021）62345678转123", "（021）62345678转123"),
        ("电话0571-88886666-801", "0571-88886666-801"),
        ("座机01088886666", "01088886666"),  # bare digits need a context word
        ("电话：0755-8888 1234", "0755-8888 1234"),  # the subscriber number split 4-4
        ("办公电话 010-6552 9988。", "010-6552 9988"),
        ("传真0512-6788-5566", "0512-6788-5566"),
    ],
)
def test_landline_valid(text, expected):
    assert values(text, "PHONE") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "编号01088886666已归档",  # bare digits without context
        "座机010-1234567",  # Beijing numbers have 8 digits and do not start with 1
        "电话010-00000000",  # placeholder
        "区号012-88886666",  # 012 is not an area code
        "座机0755-2345678",  # Shenzhen's numbers have 8 digits (phonenumbers knows each area)
        "座机0370-23456789",  # and Shangqiu's 7
    ],
)
def test_landline_look_alikes(text):
    assert values(text, "PHONE") == []


def test_landline_recognizer_bare_digits_need_context():
    recognizer = LandlineRecognizer()
    assert [h.score for h in recognizer.analyze("编号01088886666")] == [0.3]
    assert recognizer.analyze("座机01088886666")[0].score >= 0.5


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"身份证号{ID}，请核对", ID),
        (f"证件{ID.lower()}。", ID.lower()),
        (f"张三{ID}李四", ID),  # glued to CJK on both sides
        (f"身份证 {ID[:6]} {ID[6:14]} {ID[14:]}", f"{ID[:6]} {ID[6:14]} {ID[14:]}"),
        (f"身份证{ID.translate(FULL)}", ID.translate(FULL)),
        (f"身份证 {ID[:6]} {ID[6:10]} {ID[10:14]} {ID[14:]}", f"{ID[:6]} {ID[6:10]} {ID[10:14]} {ID[14:]}"),  # 6-4-4-4
        (f"身份证{ID[:6]}-{ID[6:10]}-{ID[10:14]}-{ID[14:]}", f"{ID[:6]}-{ID[6:10]}-{ID[10:14]}-{ID[14:]}"),
    ],
)
def test_id_card_valid(text, expected):
    assert values(text, "ID_CARD") == [expected]


def _with_check(first17: str) -> str:
    return first17 + id_card_check_char(first17)


@pytest.mark.parametrize(
    "text",
    [
        f"身份证号{BAD_ID}",  # wrong check digit
        f"身份证号{_with_check('11010519491331002')}",  # month 13
        f"身份证号{_with_check('99010519491231002')}",  # 99 is not a province
        f"身份证号{ID}5",  # 19 digits
        f"编号A{ID}",  # glued to a letter
        f"身份证 {ID[:6]} {ID[6:10]}-{ID[10:14]} {ID[14:]}",  # separators mixed: not one written number
    ],
)
def test_id_card_invalid(text):
    assert values(text, "ID_CARD") == []


def test_id_card_recognizer_context_raises_score():
    recognizer = IdCardRecognizer()
    with_context = recognizer.analyze(f"身份证号{ID}")[0].score
    without = recognizer.analyze(f"附件{ID}")[0].score
    assert with_context > without >= 0.5


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"银行卡{CARD}已冻结", CARD),
        (f"卡号{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}", f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}"),
        (f"卡号{CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}", f"{CARD[:4]}-{CARD[4:8]}-{CARD[8:12]}-{CARD[12:]}"),
        (f"收款卡号{CARD.translate(FULL)}。", CARD.translate(FULL)),
        (f"工资卡{CARD19}入账", CARD19),
    ],
)
def test_bank_card_valid(text, expected):
    assert values(text, "BANK_CARD") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        f"卡号{BAD_CARD}校验不通过",  # Luhn fails
        f"订单号{ORDER}已发货",  # no card issuer starts with 20
        f"交易{CARD}9999",  # 20 digits
        f"编号SO{CARD}",  # glued to letters
    ],
)
def test_bank_card_invalid(text):
    assert values(text, "BANK_CARD") == []


def test_bank_card_never_takes_an_id_with_a_wrong_check_digit():
    """18 digits laid out as an ID (province, birth date) that fail GB 11643 are not a card,
    even when they happen to pass Luhn (one in ten do)."""
    first17 = "43312219950422887"
    luhn_ok = first17 + luhn_check_digit(first17)
    assert luhn_ok != _with_check(first17)
    assert not BankCardRecognizer().validate(luhn_ok)
    assert values(f"样本{luhn_ok}不是有效证件号") == []


def test_bank_card_recognizer_luhn_alone_stays_below_an_id():
    assert BankCardRecognizer().analyze(f"附件{CARD}")[0].score < IdCardRecognizer().analyze(f"附件{ID}")[0].score


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"统一社会信用代码：{USCC}", USCC),
        (f"甲方信用代码{USCC}；乙方", USCC),
        (f"代码{USCC.translate(FULL)}", USCC.translate(FULL)),
    ],
)
def test_uscc_valid(text, expected):
    assert values(text, "USCC") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        f"信用代码{BAD_USCC}",  # GB 32100 check fails
        f"信用代码{USCC[:8].replace('35', '99')}{USCC[8:]}",  # area 99: not a province
        f"信用代码{USCC17}I",  # I is not in the alphabet
    ],
)
def test_uscc_invalid(text):
    assert values(text, "USCC") == []


def test_uscc_recognizer_validate():
    assert UsccRecognizer().validate(USCC) and not UsccRecognizer().validate(BAD_USCC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("邮箱zhang.san+pii@example.com.cn。", "zhang.san+pii@example.com.cn"),
        ("发邮件到li_si@qq.com联系", "li_si@qq.com"),
        ("账号ＡＢＣ＠example.org登录", "ＡＢＣ＠example.org"),
    ],
)
def test_email_valid(text, expected):
    assert values(text, "EMAIL") == [expected]


@pytest.mark.parametrize(
    "text", ["邮箱.abc@example.com", "邮箱a..b@example.com", "版本user@localhost", "邮箱abc@example.c"]
)
def test_email_invalid(text):
    assert values(text, "EMAIL") == []


def test_email_recognizer_validate():
    assert EmailRecognizer().validate("a.b@x.org") and not EmailRecognizer().validate("a.@x.org")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("从192.168.1.100登录", "192.168.1.100"),
        ("服务器１０．０．０．１宕机", "１０．０．０．１"),
        ("主机2001:db8::8a2e:370:7334上线", "2001:db8::8a2e:370:7334"),
        ("地址：fe80::1，", "fe80::1"),
        ("映射::ffff:10.0.0.1。", "::ffff:10.0.0.1"),
    ],
)
def test_ip_valid(text, expected):
    assert values(text, "IP") == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "版本1.2.3.4.5发布",  # dotted version number
        "固件v1.2.3.4已发布",
        "地址256.1.1.1",  # octet out of range
        "时间12:30:45开会",  # a time, not IPv6
        "金额1234.56元",
        "比分3:2",
    ],
)
def test_ip_invalid(text):
    assert values(text, "IP") == []


def test_ip_recognizer_validate():
    assert IpRecognizer().validate("::1") and not IpRecognizer().validate("1:2:3")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("护照号码E12345678，已值机", "E12345678"),
        ("护照G87654321。", "G87654321"),
        ("旅客EA1234567", "EA1234567"),
        ("护照ＥＢ７６５４３２１", "ＥＢ７６５４３２１"),
    ],
)
def test_passport_valid(text, expected):
    assert values(text, "PASSPORT") == [expected]


@pytest.mark.parametrize("text", ["护照E1234567", "单号XE12345678", "护照E123456789", "护照E00000000", "型号A12345678"])
def test_passport_invalid(text):
    assert values(text, "PASSPORT") == []


def test_passport_recognizer_validate():
    assert PassportRecognizer().validate("E12345678") and not PassportRecognizer().validate("E11111111")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("车牌号京A12345，", "京A12345"),
        ("车主粤B·D12345违停", "粤B·D12345"),
        ("新能源沪AD12345", "沪AD12345"),
        ("车辆苏E12345F", "苏E12345F"),
        ("教练车鲁A1234学", "鲁A1234学"),
        ("车牌浙Ａ１２３４５", "浙Ａ１２３４５"),
    ],
)
def test_license_plate_valid(text, expected):
    assert values(text, "LICENSE_PLATE") == [expected]


@pytest.mark.parametrize("text", ["车牌京ABCDEF", "车牌京A1234", "车牌京A1234567", "车牌京AX12345"])
def test_license_plate_invalid(text):
    assert values(text, "LICENSE_PLATE") == []


def test_license_plate_recognizer_validate():
    assert LicensePlateRecognizer().validate("京A12345") and not LicensePlateRecognizer().validate("京AABC12")


def test_hard_negatives_from_synth_are_not_flagged():
    text = "订单号DD2012345678901234已发货，金额12345.67元，预计2025年03月04日送达。"
    assert analyze(text) == []


def test_analyze_resolves_overlaps_and_orders_by_position():
    text = f"信用代码{USCC}，身份证{ID}，卡号{CARD}，电话13812345678"
    hits = analyze(text)
    assert [h.type for h in hits] == ["USCC", "ID_CARD", "BANK_CARD", "PHONE"]
    assert all(not a.overlaps(b) for a, b in zip(hits, hits[1:]))


def test_analyze_filters_entity_types():
    assert [h.type for h in analyze(f"身份证{ID}，电话13812345678", entities=["PHONE"])] == ["PHONE"]


def test_id_with_wrong_check_digit_is_not_taken_for_a_uscc() -> None:
    # 18 digits that pass the GB 32100 check by chance but read as province + birth date
    from piifactory.rules.recognizers import analyze

    assert analyze("编号441502200609129794的档案校验失败，请重新录入。") == []
