"""The genres of text the generator writes: each a set of templates with slots.

A slot is ``{TYPE}`` or ``{TYPE:n}`` (the same ``n`` repeats the same value in one sample). Slots
named after a PII type become entities; ``LANDLINE`` becomes a PHONE; the others (``ORDER``,
``HOTLINE``, ``MASKED``, ``PUBLIC``, ``BAD_ID`` ...) are hard negatives that carry no entity.
``templates`` is the original one-sentence genre the demo trains on; every other genre fills its
slots with values as people write them (``varied``), ``odd`` of the time in an unusual format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Genre:
    """A kind of text: positive templates (with PII), negative ones (hard negatives only)."""

    name: str
    description: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    varied: bool = True
    odd: float = 0.4


POSITIVE_TEMPLATES = (
    "客户{PERSON}，手机号{PHONE}，身份证号{ID_CARD}，请于本周内到柜台办理。",
    "收件人：{PERSON}，电话：{PHONE}，地址：{ADDRESS}",
    "{ORG}（统一社会信用代码：{USCC}）的法定代表人为{PERSON}。",
    "请将退款打到{PERSON}的银行卡{BANK_CARD}上，订单号{ORDER}，金额{AMOUNT}元。",
    "登录告警：账号{EMAIL}于{DATE}从{IP}登录。",
    "车主{PERSON}，车牌号{LICENSE_PLATE}，联系电话{PHONE}。",
    "旅客{PERSON}，护照号码{PASSPORT}，邮箱{EMAIL}，已完成值机。",
    "{PERSON:1}在{ORG}工作，{PERSON:1}的办公电话是{LANDLINE}。",
    "您好，我是{PERSON}，住在{ADDRESS}，有事请打{PHONE}或发邮件到{EMAIL}。",
    "经核实，{PERSON}（身份证{ID_CARD}）名下银行卡{BANK_CARD}已冻结。",
    "服务器{IP}与{IP}之间的同步失败，请联系{PERSON}处理。",
    "{DATE}，{ORG}向{PERSON}支付了{AMOUNT}元，收款卡号{BANK_CARD}。",
    "投诉人{PERSON}，电话{PHONE}，反映车牌{LICENSE_PLATE}的车辆违停。",
    "合同甲方：{ORG}，信用代码{USCC}；乙方：{PERSON}，证件号{ID_CARD}。",
    "快递员联系不上{PERSON}，号码{PHONE}已停机，包裹退回{ADDRESS}。",
    "请{PERSON}携带护照（{PASSPORT}）于{DATE}前往领馆面谈。",
    "报警人{PERSON}称其手机{PHONE:1}被盗，{PHONE:1}目前无法接通。",
    "新员工{PERSON}入职{ORG}，工资卡{BANK_CARD}，紧急联系人{PERSON}，电话{PHONE}。",
    "用户反馈：邮箱{EMAIL}收不到验证码，注册手机{PHONE}。",
    "访客登记：{PERSON}，来自{ORG}，座机{LANDLINE}，访问时间{DATE}。",
    "{ADDRESS}的住户{PERSON}申请维修，联系方式{PHONE}。",
    "审计发现{ORG}的对公账户与{PERSON}的个人卡{BANK_CARD}存在往来。",
    "防火墙拦截了来自{IP}的请求，目标主机由{PERSON}（{EMAIL}）负责。",
    "{PERSON}，男，身份证号码{ID_CARD}，户籍地址{ADDRESS}。",
    "停车场记录：{LICENSE_PLATE}于{DATE}入场，车主电话{PHONE}。",
)

NEGATIVE_TEMPLATES = (
    "订单号{ORDER}已发货，金额{AMOUNT}元，预计{DATE}送达。",
    "会议定于{DATE}召开，预算{AMOUNT}元，请各部门提前准备材料。",
    "编号{BAD_ID}的档案校验失败，请重新录入。",
    "卡号{BAD_CARD}校验不通过，交易已拒绝。",
    "本季度营收{AMOUNT}万元，同比增长{PERCENT}。",
    "工单{ORDER}于{DATE}关闭，处理时长{NUMBER}小时。",
    "系统将在{DATE}升级，届时服务暂停{NUMBER}分钟。",
    "流水号{ORDER}对应的退款{AMOUNT}元已原路返回。",
    "样本{BAD_ID}不是有效证件号，已标记为异常。",
    "库存编码{NUMBER}的商品剩余{NUMBER}件，单价{AMOUNT}元。",
    "今天天气晴，最高气温{NUMBER}度，适合出游。",
    "第{NUMBER}期培训共有{NUMBER}人参加，满意度{PERCENT}。",
)

_GENRES = (
    Genre(
        "templates",
        "one-sentence records (the demo's training data)",
        POSITIVE_TEMPLATES,
        NEGATIVE_TEMPLATES,
        varied=False,
        odd=0.0,
    ),
    Genre(
        "cs_chat",
        "customer-service chat, one turn a line",
        (
            "客服：您好，请问有什么可以帮您？\n用户：我的快递一直没到，收件人{PERSON}，电话{PHONE}\n客服：好的，请提供一下订单号\n用户：{ORDER}\n客服：已查到，地址是{ADDRESS}对吗？\n用户：对的",
            "[{TIME}] 用户：你好，我要改绑手机号\n[{TIME}] 客服：请问原手机号是？\n[{TIME}] 用户：{PHONE:1}，新号码{PHONE}\n[{TIME}] 客服：已收到，{PHONE:1}将在24小时内解绑",
            "用户：银行卡{BANK_CARD}被扣了两次钱\n客服：请问持卡人姓名？\n用户：{PERSON:1}\n客服：{PERSON:1}您好，已为您登记，客服热线{HOTLINE}",
        ),
        (
            "客服：您好，订单{ORDER}已发货\n用户：好的，谢谢\n客服：如有问题请拨打{HOTLINE}",
            "用户：我的手机号是{MASKED}吗？\n客服：是的，出于安全只显示部分号码",
        ),
    ),
    Genre(
        "delivery",
        "delivery orders and waybills",
        (
            "【外卖订单】\n收货人：{PERSON}\n电话：{PHONE}\n地址：{ADDRESS}\n备注：不要辣，放门口",
            "运单号 {TRACKING}\n寄件人 {PERSON} {PHONE}\n收件人 {PERSON} {PHONE}\n收件地址 {ADDRESS}",
            "您的包裹{TRACKING}已到{ADDRESS}驿站，取件人{PERSON}，凭手机尾号取件，快递员电话{PHONE}。",
        ),
        (
            "运单号{TRACKING}，收件人电话{MASKED}，已签收。",
            "订单{ORDER}正在配送中，骑手预计{TIME}送达，如需帮助请致电{HOTLINE}。",
        ),
    ),
    Genre(
        "resume",
        "résumés",
        (
            "个人简历\n姓名：{PERSON}\n手机：{PHONE}\n邮箱：{EMAIL}\n现居：{ADDRESS}\n工作经历：{DATE}至今 {ORG} 高级工程师",
            "{PERSON}｜求职意向：数据分析｜{PHONE}｜{EMAIL}\n{DATE}-{DATE} 就职于{ORG}，负责报表开发。",
        ),
        ("简历模板说明：请填写姓名、电话、邮箱，工作经历按时间倒序排列，不超过{NUMBER}页。",),
    ),
    Genre(
        "medical",
        "medical notes",
        (
            "门诊病历\n患者：{PERSON}，性别：女，年龄：{NUMBER}岁\n身份证号：{ID_CARD}\n联系电话：{PHONE}\n主诉：咳嗽三天。医嘱：多饮水，复诊。",
            "住院号{ORDER}，患者{PERSON:1}于{DATE}入院，家属{PERSON}（{PHONE}）陪护。{PERSON:1}既往体健。",
        ),
        ("检验报告：白细胞计数{NUMBER}，中性粒细胞比例{PERCENT}，建议结合临床。",),
    ),
    Genre(
        "court",
        "court documents",
        (
            "原告：{PERSON}，男，住{ADDRESS}，公民身份号码{ID_CARD}。\n被告：{ORG}，统一社会信用代码{USCC}，住所地{ADDRESS}。",
            "本院受理原告{PERSON:1}诉被告{PERSON}民间借贷纠纷一案，原告{PERSON:1}的委托代理人为{PERSON}，系{ORG}律师。",
        ),
        ("（{NUMBER}）民初{NUMBER}号民事判决书：本案现已审理终结，案件受理费{AMOUNT}元。",),
    ),
    Genre(
        "bank_sms",
        "bank and payment messages",
        (
            "【工商银行】尊敬的{PERSON}，您尾号的账户{BANK_CARD}于{DATE}{TIME}支出{AMOUNT}元。如非本人操作请致电{HOTLINE}。",
            "【支付宝】您已向{PERSON}（{PHONE}）转账{AMOUNT}元，收款账户{BANK_CARD}。",
        ),
        (
            "【建设银行】您尾号{NUMBER}的卡{DATE}消费{AMOUNT}元，余额充足。客服{HOTLINE}",
            "【招商银行】您的卡号{MASKED}本月账单{AMOUNT}元，到期还款日{DATE}。",
        ),
    ),
    Genre(
        "contract",
        "contracts",
        (
            "甲方（出租人）：{PERSON}\n身份证号：{ID_CARD}\n乙方（承租人）：{PERSON}\n联系电话：{PHONE}\n甲方将位于{ADDRESS}的房屋出租给乙方，月租金{AMOUNT}元，打入甲方账户{BANK_CARD}。",
            "本合同由{ORG}（统一社会信用代码{USCC}，以下简称甲方）与{ORG}（以下简称乙方）于{DATE}签订，甲方联系人{PERSON}，邮箱{EMAIL}。",
        ),
        ("第{NUMBER}条 违约责任：任何一方违约，应支付合同总额{PERCENT}的违约金。",),
    ),
    Genre(
        "review",
        "shop and product reviews",
        (
            "五星好评！快递小哥{PERSON}服务超好，还主动打电话{PHONE}确认，下次还买～",
            "差评，商家{ORG}发错货，客服让我联系{PERSON}，电话{LANDLINE}一直没人接。",
        ),
        (
            "质量不错，物流很快，客服热线{HOTLINE}态度也好，推荐购买！",
            "读了{PUBLIC}的诗集，印刷清晰，纸张很好，五星。",
        ),
    ),
    Genre(
        "group_chat",
        "group chats with emoji",
        (
            "【业主群】{PERSON}：谁的车{LICENSE_PLATE}挡住消防通道了😡\n{PERSON}：好像是{ADDRESS}的，电话{PHONE}\n物业：已联系🙏",
            "{PERSON:1}：明天聚餐🍻 地点{ADDRESS}\n{PERSON}：收到👌\n{PERSON:1}：有事打我{PHONE}",
            "班级群📢 请{PERSON}家长把资料发到{EMAIL}，谢谢🙂",
        ),
        (
            "群公告📢：周末活动取消，具体请看群文件，有问题请拨打{HOTLINE}😊",
            "哈哈哈😂 今天背了{PUBLIC}的名句，明天考试加油💪",
        ),
    ),
    Genre(
        "mixed_email",
        "Chinese-English e-mail",
        (
            "Hi {PERSON}，\n附件是本周的 report，请查收。如有问题请 call me：{PHONE}。\nBest regards,\n{PERSON}\n{ORG}\nEmail: {EMAIL}",
            "From: {EMAIL}\nTo: {EMAIL}\nSubject: 关于 {ORG} 的 contract\n\nDear {PERSON}，合同已 sign，请打款至 {BANK_CARD}。Thanks!",
        ),
        ("Subject: Weekly sync\n大家好，本周 meeting 改到{DATE}，agenda 见附件。Thanks!",),
    ),
    Genre(
        "server_log",
        "server logs",
        (
            "{DATE} {TIME} INFO  login success user={EMAIL} ip={IP}\n{DATE} {TIME} WARN  retry from {IP}",
            "[{TIME}] ERROR sms.send failed phone={PHONE} name={PERSON} code=500\n[{TIME}] INFO  fallback to email={EMAIL}",
            '{IP} - - [{TIME}] "POST /api/user/bind HTTP/1.1" 200 idcard={ID_CARD}',
        ),
        (
            "{DATE} {TIME} INFO  job {ORDER} finished in {NUMBER}ms, {NUMBER} rows",
            "[{TIME}] DEBUG cache hit ratio {PERCENT}, order={ORDER}",
        ),
    ),
    Genre(
        "kv_form",
        "key：value forms",
        (
            "姓名：{PERSON}\n证件类型：身份证\n证件号码：{ID_CARD}\n手机号码：{PHONE}\n开户行：{ORG}\n银行卡号：{BANK_CARD}",
            "车主姓名：{PERSON}\n车牌号码：{LICENSE_PLATE}\n联系地址：{ADDRESS}\n联系电话：{PHONE}",
            "申请人：{PERSON}\n证件类型：护照或通行证\n证件号：{PASSPORT}\n邮箱：{EMAIL}",
        ),
        (
            "订单编号：{ORDER}\n下单时间：{DATE} {TIME}\n实付金额：{AMOUNT}\n客服电话：{HOTLINE}",
            "证件号码：{BAD_ID}\n校验结果：不通过",
        ),
    ),
    Genre(
        "markdown_table",
        "Markdown tables",
        (
            "| 姓名 | 电话 | 邮箱 |\n| --- | --- | --- |\n| {PERSON} | {PHONE} | {EMAIL} |\n| {PERSON} | {PHONE} | {EMAIL} |",
            "| 单位 | 信用代码 | 联系人 |\n|---|---|---|\n| {ORG} | {USCC} | {PERSON} |",
        ),
        (
            "| 订单号 | 金额 | 日期 |\n| --- | --- | --- |\n| {ORDER} | {AMOUNT} | {DATE} |\n| {ORDER} | {AMOUNT} | {DATE} |",
        ),
    ),
    Genre(
        "ocr",
        "OCR of scanned forms: broken spacing, full-width digits",
        (
            "姓 名 {PERSON} 性 别 男\n公民身份号码 {ID_CARD}\n住 址 {ADDRESS}",
            "申 请 人 :{PERSON}  联系电话 :{PHONE}\n银 行 卡 号 :{BANK_CARD}  丨  开户名 :{PERSON}",
            "扫描件 第{NUMBER}页\n持证人 {PERSON}  证件号码 {PASSPORT}\n签发日期 {DATE}",
        ),
        ("扫描件 第{NUMBER}页 丨 编 号 {ORDER} 丨 金 额 {AMOUNT}",),
        odd=0.8,
    ),
    Genre(
        "long_paragraph",
        "long paragraphs with many entities",
        (
            "{DATE}，{ORG}召开项目会议，参会人员有{PERSON:1}、{PERSON}和{PERSON}。会后{PERSON:1}通过邮箱{EMAIL}将纪要发给"
            "合作方{ORG}，并约定由对方联系人{PERSON}（手机{PHONE}，座机{LANDLINE}）负责对接。项目款{AMOUNT}元将打入"
            "{ORG}的账户{BANK_CARD}，发票寄往{ADDRESS}。如需核验身份，{PERSON:1}的身份证号为{ID_CARD}，车辆{LICENSE_PLATE}"
            "已登记入园，访客网络分配地址{IP}。",
            "经查，{PERSON:1}（身份证号{ID_CARD:1}，护照{PASSPORT}）于{DATE}在{ADDRESS}注册成立{ORG}，统一社会信用代码"
            "{USCC}。其本人手机{PHONE:1}与{PERSON}的手机{PHONE}频繁联系，资金经{BANK_CARD}转出。{PERSON:1}声称{PHONE:1}"
            "已于{DATE}停用，但登录记录显示该号码仍从{IP}登录邮箱{EMAIL}。",
        ),
        (
            "会议回顾了{PUBLIC}与{PUBLIC}的作品，讨论了第{NUMBER}期的出版计划，预算{AMOUNT}元，订单号{ORDER}，"
            "如有疑问请拨打{HOTLINE}，并于{DATE}前提交意见。",
        ),
    ),
    Genre(
        "police_report",
        "police and incident reports",
        (
            "报警人{PERSON}（{PHONE}）称：{DATE}{TIME}许，其在{ADDRESS}被一辆车牌为{LICENSE_PLATE}的车辆剐蹭，对方司机{PERSON}逃离。",
            "嫌疑人{PERSON}，曾用名{PERSON}，{ID_CARD}，户籍地{ADDRESS}，持有护照{PASSPORT}。",
        ),
        ("接警编号{ORDER}，现场无人员伤亡，损失约{AMOUNT}元，报警电话{HOTLINE}。",),
    ),
    Genre(
        "hr_notice",
        "HR and payroll notices",
        (
            "关于{PERSON}同志的任职通知：经研究，任命{PERSON}为{ORG}财务部经理。工资卡号{BANK_CARD}，联系电话{PHONE}。",
            "社保缴纳名单：{PERSON} {ID_CARD}；{PERSON} {ID_CARD}；经办人{PERSON}，邮箱{EMAIL}。",
        ),
        (
            "本月绩效奖金已发放，人均{AMOUNT}元，发放比例{PERCENT}，咨询电话{HOTLINE}。",
            "员工手机号{MASKED}已完成实名认证。",
        ),
    ),
)

GENRES: dict[str, Genre] = {genre.name: genre for genre in _GENRES}
DEFAULT_GENRES = ("templates",)
VARIED_GENRES = tuple(name for name in GENRES if name not in DEFAULT_GENRES)
